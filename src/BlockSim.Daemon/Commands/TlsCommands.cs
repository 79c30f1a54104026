using System.CommandLine;
using BlockSim.Nbd.Tls;

namespace BlockSim.Daemon.Commands;

/// <summary><c>blocksim tls ...</c>: a private CA with server and client certificates for NBD over TLS.</summary>
internal static class TlsCommands
{
    public static Command Create()
    {
        var tls = new Command("tls", "Make TLS credentials for NBD: a private CA, a server certificate, client certificates.");
        var days = new Option<int>("--days") { Description = "Validity in days, 1 to 36500.", DefaultValueFactory = _ => 825 }.InRange(1, 36500);

        var initDirectory = new Argument<string>("dir") { Description = "Directory to create the credentials in (must not hold any yet)." };
        var serverNames = new Option<string[]>("--server-name")
        {
            Description = "Host name or IP address clients use to reach the server (repeatable). Default: localhost, this host's name, 127.0.0.1, ::1.",
        };
        var clients = new Option<string[]>("--client") { Description = "Also issue a client certificate CN=NAME (repeatable)." };
        var init = new Command("init", "Create a private CA and a server certificate (and client certificates with --client).") { initDirectory, serverNames, clients, days };
        init.SetAction(r => CliContext.Run(r, () =>
        {
            var directory = r.GetValue(initDirectory)!;
            var names = r.GetValue(serverNames) is { Length: > 0 } given ? given : ["localhost", Environment.MachineName, "127.0.0.1", "::1"];
            if (r.GetValue(days) < 1)
            {
                Console.Error.WriteLine("--days: give at least 1.");
                return ExitCodes.Usage;
            }

            if (PrivateCertificateAuthority.ExistingCredentials(directory) is { } existing)
            {
                Console.Error.WriteLine(existing); // a usage error, as keystore init on a store: nothing was touched
                return ExitCodes.Usage;
            }

            using var authority = PrivateCertificateAuthority.Create(directory, names.Distinct().ToArray(), r.GetValue(days));
            var issued = (r.GetValue(clients) ?? []).Select(name => new TlsClientIssued(name, authority.IssueClient(name, r.GetValue(days)))).ToList();
            var made = new TlsCredentialsMade(Path.GetFullPath(directory), [.. names.Distinct()], issued, PrivateCertificateAuthority.KeyDirectory(directory));
            CliContext.Print(r, made, CliJson.Output.TlsCredentialsMade, m => string.Join(
                Environment.NewLine,
                [
                    $"CA and server certificate for {string.Join(", ", m.ServerNames)} in {m.Directory}",
                    .. m.Clients.Select(c => $"Client CN={c.Name}: {c.Directory}"),
                    $"Serve with: blocksim serve --tls-dir {directory}   (TLS required; client certificates verified against ca-cert.pem)",
                    $"The CA's private key is in {m.CaKeyDirectory}: serve never reads it; keep that directory off the server, and bring it back to issue more clients with 'blocksim tls client'.",
                ]));
            return ExitCodes.Ok;
        }));

        var clientDirectory = new Argument<string>("dir") { Description = "Directory that 'tls init' made." };
        var clientName = new Argument<string>("name") { Description = "The client's name: its certificate subject becomes CN=NAME." };
        var client = new Command("client", "Issue a client certificate from the CA in DIR, into DIR/clients/NAME.") { clientDirectory, clientName, days };
        client.SetAction(r => CliContext.Run(r, () =>
        {
            using var authority = PrivateCertificateAuthority.Open(r.GetValue(clientDirectory)!);
            var issued = new TlsClientIssued(r.GetValue(clientName)!, authority.IssueClient(r.GetValue(clientName)!, r.GetValue(days)));
            CliContext.Print(r, issued, CliJson.Output.TlsClientIssued, c => $"Client CN={c.Name}: {c.Directory}{Environment.NewLine}  nbdinfo 'nbds://HOST:PORT/EXPORT?tls-certificates={c.Directory}'");
            return ExitCodes.Ok;
        }));

        tls.Subcommands.Add(init);
        tls.Subcommands.Add(client);
        return tls;
    }
}
