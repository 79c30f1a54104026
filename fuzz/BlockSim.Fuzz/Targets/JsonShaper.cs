using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// Turns any bytes into a JSON document, each byte a choice: what kind of value comes next, which of a
/// dictionary's keys or values, how many members. The JSON reader is precompiled in the shared framework, so
/// SharpFuzz cannot instrument it and AFL++ gets no feedback from it: mutating JSON text, almost every change
/// breaks the syntax and the mutation is wasted before BlockSim's own code sees it. Mutating choices, every
/// input is well-formed JSON (raw literals aside, which let broken tokens in on purpose), and the coverage
/// comes from the code that reads the document, which is instrumented.
/// <code>
/// value   := kind (byte % 8): 0, 7 object | 1 array | 2 dictionary string | 3 dictionary scalar (a number,
///            true, false, null) | 4 raw string | 5 raw literal (bytes as they are) | 6 integer (4 bytes, LE)
/// object  := count (byte % 16), then per member: key (byte &lt; 0xF0: dictionary string; else raw), value
/// array   := count (byte % 8), then values
/// raw     := length (byte), then that many bytes
/// </code>
/// Past the end of the input every byte reads as 0, which closes everything ({}), so each input ends.
/// <see cref="Encode(string)"/> is the inverse for documents within the grammar: how the seeds are made from JSON.
/// </summary>
internal sealed class JsonShaper
{
    private const int MaxDepth = 8;
    private const byte RawKey = 0xFF;
    private readonly string[] _strings;
    private readonly string[] _scalars;

    private JsonShaper(string[] strings, string[] scalars)
    {
        _strings = strings;
        _scalars = scalars;
    }

    /// <summary>The dictionary of an AFL++ .dict file: its quoted JSON strings, and its numbers and literals; syntax tokens are left out.</summary>
    public static JsonShaper FromAflDictionary(string text)
    {
        var strings = new List<string>();
        var scalars = new List<string>();
        foreach (var line in text.Split('\n'))
        {
            var start = line.IndexOf("=\"", StringComparison.Ordinal);
            if (line.StartsWith('#') || start < 0 || !line.TrimEnd().EndsWith('"'))
            {
                continue;
            }

            var token = AflUnescape(line.TrimEnd()[(start + 2)..^1]);
            try
            {
                using var parsed = JsonDocument.Parse(token);
                var value = parsed.RootElement;
                if (value.ValueKind == JsonValueKind.String)
                {
                    strings.Add(value.GetString()!);
                }
                else if (value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
                {
                    scalars.Add(token);
                }
            }
            catch (JsonException)
            {
                // syntax ("{", ":", "\"") or a number out of JSON's range, which raw literals reach anyway
                if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                {
                    scalars.Add(token);
                }
            }
        }

        return new JsonShaper([.. strings.Distinct()], [.. scalars.Distinct()]);
    }

    public string Shape(ReadOnlySpan<byte> input)
    {
        var text = new StringBuilder();
        var reader = new ChoiceReader(input);
        Value(ref reader, text, 0);
        return text.ToString();
    }

    /// <summary>The choices that shape <paramref name="json"/> (up to member order and spacing).</summary>
    public byte[] Encode(string json)
    {
        using var document = JsonDocument.Parse(json);
        var choices = new List<byte>();
        Encode(document.RootElement, choices, 0);
        return [.. choices];
    }

    private void Value(ref ChoiceReader reader, StringBuilder text, int depth)
    {
        var kind = reader.Next() % 8;
        if (depth >= MaxDepth && kind is 0 or 1 or 7)
        {
            kind = 3; // deep enough: a scalar, so every document stays small
        }

        switch (kind)
        {
            case 0 or 7:
                text.Append('{');
                var members = reader.Next() % 16;
                for (var i = 0; i < members; i++)
                {
                    text.Append(i > 0 ? "," : "");
                    var key = reader.Next();
                    text.Append(Quote(key < 0xF0 ? _strings[key % _strings.Length] : Encoding.UTF8.GetString(reader.Raw())));
                    text.Append(':');
                    Value(ref reader, text, depth + 1);
                }

                text.Append('}');
                break;
            case 1:
                text.Append('[');
                var items = reader.Next() % 8;
                for (var i = 0; i < items; i++)
                {
                    text.Append(i > 0 ? "," : "");
                    Value(ref reader, text, depth + 1);
                }

                text.Append(']');
                break;
            case 2:
                text.Append(Quote(_strings[reader.Next() % _strings.Length]));
                break;
            case 3:
                text.Append(_scalars[reader.Next() % _scalars.Length]);
                break;
            case 4:
                text.Append(Quote(Encoding.UTF8.GetString(reader.Raw())));
                break;
            case 5:
                text.Append(Encoding.UTF8.GetString(reader.Raw()));
                break;
            default:
                text.Append(reader.Int32().ToString(CultureInfo.InvariantCulture));
                break;
        }
    }

    private void Encode(JsonElement value, List<byte> choices, int depth)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object when depth < MaxDepth:
                var members = value.EnumerateObject().ToList();
                choices.Add(0);
                choices.Add(members.Count < 16 ? (byte)members.Count : throw new ArgumentException("an object of more than 15 members is beyond the grammar"));
                foreach (var member in members)
                {
                    var index = Array.IndexOf(_strings, member.Name);
                    if (index is >= 0 and < 0xF0)
                    {
                        choices.Add((byte)index);
                    }
                    else
                    {
                        choices.Add(RawKey);
                        AddRaw(choices, Encoding.UTF8.GetBytes(member.Name));
                    }

                    Encode(member.Value, choices, depth + 1);
                }

                break;
            case JsonValueKind.Array when depth < MaxDepth:
                var items = value.EnumerateArray().ToList();
                choices.Add(1);
                choices.Add(items.Count < 8 ? (byte)items.Count : throw new ArgumentException("an array of more than 7 items is beyond the grammar"));
                foreach (var item in items)
                {
                    Encode(item, choices, depth + 1);
                }

                break;
            case JsonValueKind.String when Array.IndexOf(_strings, value.GetString()) is >= 0 and var index:
                choices.Add(2);
                choices.Add((byte)index);
                break;
            case JsonValueKind.String:
                choices.Add(4);
                AddRaw(choices, Encoding.UTF8.GetBytes(value.GetString()!));
                break;
            case JsonValueKind.Number when value.TryGetInt32(out var number) && Array.IndexOf(_scalars, value.GetRawText()) < 0:
                choices.Add(6);
                Span<byte> bytes = stackalloc byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(bytes, number);
                choices.AddRange(bytes);
                break;
            default:
                var scalar = Array.IndexOf(_scalars, value.GetRawText());
                if (scalar >= 0)
                {
                    choices.Add(3);
                    choices.Add((byte)scalar);
                }
                else
                {
                    choices.Add(5);
                    AddRaw(choices, Encoding.UTF8.GetBytes(value.GetRawText()));
                }

                break;
        }
    }

    private static void AddRaw(List<byte> choices, byte[] bytes)
    {
        choices.Add(bytes.Length <= byte.MaxValue ? (byte)bytes.Length : throw new ArgumentException("a raw piece longer than 255 bytes is beyond the grammar"));
        choices.AddRange(bytes);
    }

    private static string Quote(string value) => JsonSerializer.Serialize(value);

    /// <summary>AFL++'s escapes in a dictionary value: \\, \" and \xNN.</summary>
    private static string AflUnescape(string value)
    {
        var bytes = new List<byte>();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length)
            {
                if (value[i + 1] == 'x' && i + 3 < value.Length)
                {
                    bytes.Add(byte.Parse(value.AsSpan(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 3;
                    continue;
                }

                i++;
            }

            bytes.AddRange(Encoding.UTF8.GetBytes(value[i].ToString()));
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <summary>The input read a choice at a time; zeros past its end.</summary>
    private ref struct ChoiceReader(ReadOnlySpan<byte> input)
    {
        private readonly ReadOnlySpan<byte> _input = input;
        private int _at;

        public byte Next() => _at < _input.Length ? _input[_at++] : (byte)0;

        public ReadOnlySpan<byte> Raw()
        {
            var length = Math.Min(Next(), _input.Length - Math.Min(_at, _input.Length));
            var raw = _input.Slice(Math.Min(_at, _input.Length), length);
            _at += length;
            return raw;
        }

        public int Int32()
        {
            Span<byte> bytes = [Next(), Next(), Next(), Next()];
            return BinaryPrimitives.ReadInt32LittleEndian(bytes);
        }
    }
}
