using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace BlockSim.Daemon.Service;

/// <summary>
/// Finds the keys of a configuration that no setting has, before the binder sees them (its own refusal names
/// a .NET class and 'ErrorOnUnknownConfiguration', not the key): each as the file writes it
/// ("limits.maxConection"), with the keys its section does have and the likeliest one meant.
/// </summary>
internal static class UnknownSettings
{
    public static List<string> Find(IConfiguration configuration, Type settings)
    {
        var problems = new List<string>();
        Walk(configuration.GetChildren(), settings, "", problems);
        return problems;
    }

    private static void Walk(IEnumerable<IConfigurationSection> sections, Type type, string prefix, List<string> problems)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToList();
        foreach (var section in sections)
        {
            var path = prefix.Length == 0 ? section.Key : $"{prefix}.{section.Key}";
            var property = properties.FirstOrDefault(p => string.Equals(p.Name, section.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                var known = properties.Select(p => Camel(p.Name)).ToList();
                var closest = known.MinBy(k => Distance(k.ToLowerInvariant(), section.Key.ToLowerInvariant()));
                var hint = closest is not null && Distance(closest.ToLowerInvariant(), section.Key.ToLowerInvariant()) <= Math.Max(2, section.Key.Length / 3) ? $" Did you mean '{closest}'?" : "";
                problems.Add($"{path}: there is no such setting.{hint} {(prefix.Length == 0 ? "The top level" : $"'{prefix}'")} has: {string.Join(", ", known)}.");
                continue;
            }

            Into(section, property.PropertyType, path, problems);
        }
    }

    /// <summary>Goes on into a section that holds a settings object, a map of them or a list of them; values end the walk.</summary>
    private static void Into(IConfigurationSection section, Type type, string path, List<string> problems)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string) || type.IsPrimitive || type.IsEnum || type == typeof(decimal))
        {
            return; // a value (what it holds is the range checks' to judge)
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            foreach (var entry in section.GetChildren())
            {
                Into(entry, type.GetGenericArguments()[1], $"{path}.{entry.Key}", problems);
            }

            return;
        }

        if (type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type))
        {
            foreach (var item in section.GetChildren())
            {
                Into(item, type.GetGenericArguments()[0], $"{path}[{item.Key}]", problems);
            }

            return;
        }

        Walk(section.GetChildren(), type, path, problems);
    }

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    /// <summary>Levenshtein distance: edits from one key to the other.</summary>
    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }
}
