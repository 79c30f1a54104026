using System.Text.Json;
using System.Text.Json.Serialization;

namespace BlockSim.Daemon.Admin;

/// <summary>The admin socket's JSON, both ways: camelCase, enums by name, nulls left out, unknown fields refused.</summary>
internal static class AdminJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new JsonStringEnumConverter() },
    };
}

/// <summary>What the admin socket answers when a request fails: an error code (the key store's, where it has one) and a message.</summary>
internal sealed record AdminError(string ErrorCode, string Message);
