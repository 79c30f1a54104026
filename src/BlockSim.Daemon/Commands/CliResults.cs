namespace BlockSim.Daemon.Commands;

// What the commands print with --json, where no type of their own already says it (CliJson writes them in
// camelCase). Each names what was acted on, so a script needs no second call to learn it.

/// <summary><c>info</c>: XtsTier is null where no tier can run (the error says why).</summary>
internal sealed record InfoResult(string Version, string Runtime, string? XtsTier, IReadOnlyList<string> SupportedTiers, string Cpu);

/// <summary><c>keystore init</c>: KeyFile is null for a store sealed by a passphrase.</summary>
internal sealed record KeyStoreCreated(string KeyStore, string SealedBy, string? KeyFile, string DefaultKey, string Administrator);

/// <summary><c>audit verify</c>: intact when Problems is empty.</summary>
internal sealed record AuditVerified(bool Intact, long Records, IReadOnlyList<string> Problems, IReadOnlyList<string> Notes);

/// <summary><c>audit archive</c>.</summary>
internal sealed record AuditArchived(long Records, IReadOnlyList<string> Segments);

/// <summary><c>policy get --json</c>: the policy document itself, not a string holding it.</summary>
internal sealed record KeyPolicyResult(string Key, string PolicyName, System.Text.Json.JsonElement Policy);

/// <summary><c>policy put</c>.</summary>
internal sealed record PolicyReplaced(string Key);

/// <summary><c>policy test</c>.</summary>
internal sealed record PolicyTested(string Key, string Principal, string Action, bool Allowed);

/// <summary><c>grant retire</c>.</summary>
internal sealed record GrantRetired(string GrantId);

/// <summary><c>volume delete</c>: the daemon's grants for it that were retired with it.</summary>
internal sealed record VolumeDeleted(string Name, string Path, IReadOnlyList<string> RetiredGrants);

/// <summary><c>volume takeover</c>: whose locks were broken (empty where no one held it by then).</summary>
internal sealed record VolumeTakenOver(string Name, IReadOnlyList<string> BrokenLocks);

/// <summary><c>volume import|export</c>: Direction is "import" or "export".</summary>
internal sealed record VolumeCopied(string Direction, string Name, string Image, long Bytes, double Seconds);

/// <summary><c>volume snapshot delete</c>.</summary>
internal sealed record SnapshotDeleted(string Volume, string Label, string Path);

/// <summary><c>tls init</c>.</summary>
internal sealed record TlsCredentialsMade(string Directory, IReadOnlyList<string> ServerNames, IReadOnlyList<TlsClientIssued> Clients, string CaKeyDirectory);

/// <summary>A client certificate <c>tls init --client</c> or <c>tls client</c> issued, and the folder holding it.</summary>
internal sealed record TlsClientIssued(string Name, string Directory);

/// <summary><c>crash show</c>: Requests by kind (write, trim, ...).</summary>
internal sealed record CrashLogSummary(string Log, int SectorSize, long Capacity, int Records, int Requests, IReadOnlyDictionary<string, int> RequestsByKind, int Fua, int CrashPoints, IReadOnlyList<CrashLogMark> Marks);

/// <summary>A named mark in a write log, at the crash point it falls on.</summary>
internal sealed record CrashLogMark(string Name, int CrashPoint);

/// <summary><c>crash explore</c>: the figures of its report, and where the report is.</summary>
internal sealed record CrashExploreSummary(int States, int Passed, int Failed, double Seconds, string Report, string ReportMarkdown, IReadOnlyList<CrashFailure> Failures);

/// <summary>A state that failed its check: ExitCode null when the check timed out; Replay is the recipe to rebuild it (shrunk where it could be).</summary>
internal sealed record CrashFailure(int State, int? ExitCode, string Replay);

/// <summary><c>crash replay --check</c>.</summary>
internal sealed record CrashReplayed(string State, bool Passed, int? ExitCode);

/// <summary><c>crash replay</c> without --check: the state is served at Uri until Ctrl+C.</summary>
internal sealed record CrashServing(string State, string Uri);

/// <summary><c>serve --check</c>: Ok when Problems is empty; nothing was bound, unsealed or created.</summary>
internal sealed record ServeChecked(bool Ok, string? Config, string DataDir, string KeyStore, IReadOnlyList<string> Listen, string Socket, string? Tls, IReadOnlyList<CheckedExport> Exports, IReadOnlyList<string> Problems);

/// <summary>An export as serve would open it: Kind "memory" or "volume"; Capacity null where not known yet.</summary>
internal sealed record CheckedExport(string Name, string Kind, string? Volume, long? Capacity, bool ReadOnly, string State);
