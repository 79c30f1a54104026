using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Etcd;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// What --json prints, for every command: camelCase (as the audit records and the admin socket are), enums by
/// name, indented. Source-generated, so no command's output depends on reflection (a trimmed publish keeps
/// it), and a type a command prints but nobody listed here does not compile.
/// </summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(InfoResult))]
[JsonSerializable(typeof(KeyDescription))]
[JsonSerializable(typeof(IReadOnlyList<KeyDescription>))]
[JsonSerializable(typeof(GrantInfo))]
[JsonSerializable(typeof(IReadOnlyList<GrantInfo>))]
[JsonSerializable(typeof(KeySlotInfo))]
[JsonSerializable(typeof(IReadOnlyList<KeySlotInfo>))]
[JsonSerializable(typeof(KeyStoreCreated))]
[JsonSerializable(typeof(AuditVerified))]
[JsonSerializable(typeof(AuditArchived))]
[JsonSerializable(typeof(KeyPolicyResult))]
[JsonSerializable(typeof(PolicyReplaced))]
[JsonSerializable(typeof(PolicyTested))]
[JsonSerializable(typeof(GrantRetired))]
[JsonSerializable(typeof(VolumeCommands.VolumeInfo))]
[JsonSerializable(typeof(VolumeCommands.UnusableVolume))]
[JsonSerializable(typeof(List<VolumeCommands.VolumeInfo>))]
[JsonSerializable(typeof(List<object>))]
[JsonSerializable(typeof(IReadOnlyList<VolumeLease>))]
[JsonSerializable(typeof(VolumeDeleted))]
[JsonSerializable(typeof(VolumeTakenOver))]
[JsonSerializable(typeof(VolumeCopied))]
[JsonSerializable(typeof(SnapshotCommands.SnapshotInfo))]
[JsonSerializable(typeof(List<SnapshotCommands.SnapshotInfo>))]
[JsonSerializable(typeof(SnapshotCommands.SnapshotCreated))]
[JsonSerializable(typeof(SnapshotCommands.SnapshotRolledBack))]
[JsonSerializable(typeof(SnapshotDeleted))]
[JsonSerializable(typeof(TlsCredentialsMade))]
[JsonSerializable(typeof(TlsClientIssued))]
[JsonSerializable(typeof(CrashLogSummary))]
[JsonSerializable(typeof(CrashExploreSummary))]
[JsonSerializable(typeof(CrashReplayed))]
[JsonSerializable(typeof(CrashServing))]
[JsonSerializable(typeof(ServeChecked))]
internal sealed partial class CliJson : JsonSerializerContext
{
    /// <summary>
    /// As <see cref="JsonSerializerContext"/>'s Default, but writing '+', '&amp;', quotes in text and non-ASCII
    /// as themselves: the output goes to a terminal or a script, never into HTML, and "1.0.0\u002Bb315dc9" is
    /// not what the version is.
    /// </summary>
    // Made at first use: a static initializer here would run before the generated part's, while Default is null.
    public static CliJson Output => s_output ??= new(new JsonSerializerOptions(Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private static CliJson? s_output;
}
