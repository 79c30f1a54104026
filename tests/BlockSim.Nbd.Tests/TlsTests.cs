using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Authentication;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;
using BlockSim.Nbd.Tls;

namespace BlockSim.Nbd.Tests;

public sealed class TlsTests(TlsFixture tls) : IClassFixture<TlsFixture>, IAsyncLifetime
{
    private readonly RecordingExport _recording = new(new MemoryExport("rec", 1 << 20));
    private NbdServer _server = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Exports mem (open to all), rec (records who attaches) and secret (alice only), on one listener.</summary>
    private int Listen(NbdTlsMode mode, TlsCredentials? credentials = null)
    {
        var exports = new ExportRegistry(
            [new MemoryExport("mem", 1 << 20), _recording, new MemoryExport("secret", 1 << 20)],
            allowedClients: new Dictionary<string, IReadOnlyCollection<string>> { ["secret"] = ["CN=alice"] });
        _server = new NbdServer(exports, new NbdServerOptions { Tls = credentials ?? tls.Credentials() });
        return _server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), mode).Port;
    }

    private static Task<NbdClient> ConnectAsync(int port, string export, System.Net.Security.SslClientAuthenticationOptions? options) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = export, Tls = options });

    [Fact]
    public async Task A_listener_that_requires_tls_answers_every_option_but_starttls_and_abort_with_tls_reqd()
    {
        var port = Listen(NbdTlsMode.Require);
        await using var raw = await RawNbd.ConnectAsync(port);
        await raw.GreetAsync();
        foreach (var (option, payload) in new (NbdOption, byte[])[]
        {
            (NbdOption.List, []),
            (NbdOption.Info, RawNbd.InfoPayload("mem")),
            (NbdOption.Go, RawNbd.InfoPayload("mem")),
            (NbdOption.StructuredReply, []),
            (NbdOption.ListMetaContext, RawNbd.MetaContextPayload("mem", "base:allocation")),
            ((NbdOption)99, [1, 2, 3]),
        })
        {
            await raw.SendOptionAsync((uint)option, payload);
            var (answered, type, _) = await raw.ReadOptionReplyAsync();
            Assert.Equal((uint)option, answered);
            Assert.Equal(NbdOptionReplyType.ErrorTlsRequired, type);
        }

        await raw.SendOptionAsync((uint)NbdOption.Abort);
        Assert.Equal(NbdOptionReplyType.Ack, (await raw.ReadOptionReplyAsync()).Type);
        Assert.Empty(_recording.Seen);
    }

    [Fact]
    public async Task Export_name_before_tls_on_a_requiring_listener_closes_the_connection_without_attaching()
    {
        var port = Listen(NbdTlsMode.Require);
        await using var raw = await RawNbd.ConnectAsync(port);
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.ExportName, "rec"u8.ToArray());
        Assert.True(await raw.IsClosedByServerAsync());
        Assert.Empty(_recording.Seen);
    }

    [Fact]
    public async Task A_plaintext_client_is_refused_by_a_requiring_listener_and_a_tls_client_is_served()
    {
        var port = Listen(NbdTlsMode.Require);
        var refused = await Assert.ThrowsAsync<NbdClientException>(() => ConnectAsync(port, "mem", null));
        Assert.Contains("ErrorTlsRequired", refused.Message);

        await using var client = await ConnectAsync(port, "rec", tls.Client("alice"));
        var data = new byte[8192];
        Random.Shared.NextBytes(data);
        await client.WriteAsync(4096, data);
        var back = new byte[data.Length];
        await client.ReadAsync(4096, back);
        Assert.Equal(data, back);
        var seen = Assert.Single(_recording.Seen);
        Assert.Equal("CN=alice", seen.Name);
        Assert.True(seen.Tls);
        Assert.Equal("127.0.0.1", seen.Address);
    }

    [Fact]
    public async Task An_optional_tls_listener_serves_plaintext_clients_as_anonymous_and_tls_clients_by_certificate()
    {
        var port = Listen(NbdTlsMode.On);
        await using (var plain = await ConnectAsync(port, "rec", null))
        {
            await plain.FlushAsync();
        }

        await using (var anonymous = await ConnectAsync(port, "rec", tls.Client(null)))
        {
            await anonymous.FlushAsync();
        }

        await using (var bob = await ConnectAsync(port, "rec", tls.Client("bob")))
        {
            await bob.FlushAsync();
        }

        Assert.Equal(
            [(NbdClientIdentity.Anonymous, false), (NbdClientIdentity.Anonymous, true), ("CN=bob", true)],
            _recording.Seen.Select(s => (s.Name, s.Tls)).ToArray());
    }

    [Fact]
    public async Task Starttls_is_err_policy_on_a_listener_without_tls()
    {
        var port = Listen(NbdTlsMode.Off);
        await using var raw = await RawNbd.ConnectAsync(port);
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.StartTls);
        Assert.Equal(NbdOptionReplyType.ErrorPolicy, (await raw.ReadOptionReplyAsync()).Type);
        await raw.SendOptionAsync((uint)NbdOption.Go, RawNbd.InfoPayload("mem"));
        Assert.Equal(NbdOptionReplyType.Ack, (await raw.ReadOptionRepliesAsync())[^1].Type);
    }

    [Fact]
    public async Task What_was_negotiated_before_tls_is_forgotten_after_it()
    {
        var port = Listen(NbdTlsMode.On);
        await using var raw = await RawNbd.ConnectAsync(port);
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.StructuredReply);
        Assert.Equal(NbdOptionReplyType.Ack, (await raw.ReadOptionReplyAsync()).Type);

        await raw.SendOptionAsync((uint)NbdOption.StartTls, [1]);
        Assert.Equal(NbdOptionReplyType.ErrorInvalid, (await raw.ReadOptionReplyAsync()).Type); // STARTTLS takes no payload
        await raw.SendOptionAsync((uint)NbdOption.StartTls);
        Assert.Equal(NbdOptionReplyType.Ack, (await raw.ReadOptionReplyAsync()).Type);
        await raw.UpgradeToTlsAsync(tls.Client("alice"));

        // Structured replies were agreed in clear; after TLS they must be asked for again.
        await raw.SendOptionAsync((uint)NbdOption.SetMetaContext, RawNbd.MetaContextPayload("mem", "base:allocation"));
        Assert.Equal(NbdOptionReplyType.ErrorInvalid, (await raw.ReadOptionReplyAsync()).Type);
        await raw.SendOptionAsync((uint)NbdOption.StartTls);
        Assert.Equal(NbdOptionReplyType.ErrorInvalid, (await raw.ReadOptionReplyAsync()).Type); // already active
        await raw.SendOptionAsync((uint)NbdOption.StructuredReply);
        Assert.Equal(NbdOptionReplyType.Ack, (await raw.ReadOptionReplyAsync()).Type);
        await raw.SendOptionAsync((uint)NbdOption.SetMetaContext, RawNbd.MetaContextPayload("mem", "base:allocation"));
        Assert.Equal(NbdOptionReplyType.MetaContext, (await raw.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task A_client_certificate_from_another_ca_is_refused()
    {
        var port = Listen(NbdTlsMode.Require);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            // Under TLS 1.3 the client may only learn of the refusal at its first read, so use the connection.
            await using var eve = await ConnectAsync(port, "rec", tls.Client("eve", issuingCaDirectory: tls.OtherCa));
            await eve.FlushAsync();
        });
        Assert.Empty(_recording.Seen);

        await using var alice = await ConnectAsync(port, "rec", tls.Client("alice"));
        await alice.FlushAsync(); // the listener carries on
    }

    [Fact]
    public async Task When_client_certificates_are_required_a_client_without_one_is_refused()
    {
        var port = Listen(NbdTlsMode.Require, tls.Credentials(requireClientCertificate: true));
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var anonymous = await ConnectAsync(port, "rec", tls.Client(null));
            await anonymous.FlushAsync();
        });
        Assert.Empty(_recording.Seen);
    }

    [Theory]
    [InlineData(NbdTlsMode.On)]
    [InlineData(NbdTlsMode.Off)]
    public async Task A_listener_that_cannot_require_client_certificates_refuses_to_start_naming_it(NbdTlsMode mode)
    {
        // Regression: on a tls=on listener an anonymous plaintext client attached and wrote, although the
        // credentials required a client certificate.
        _server = new NbdServer(new ExportRegistry([_recording]), new NbdServerOptions { Tls = tls.Credentials(requireClientCertificate: true) });
        var tcp = Assert.Throws<InvalidOperationException>(() => _server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), mode));
        Assert.Contains("127.0.0.1:0", tcp.Message);
        Assert.Contains("tls=require", tcp.Message);
        var path = Path.Combine(tls.Root, $"{Guid.NewGuid():N}.sock");
        var unix = Assert.Throws<InvalidOperationException>(() => _server.ListenUnix(path, mode));
        Assert.Contains(path, unix.Message);
        Assert.Empty(_server.Endpoints);

        var port = _server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), NbdTlsMode.Require).Port;
        var plain = await Assert.ThrowsAsync<NbdClientException>(() => ConnectAsync(port, "rec", null));
        Assert.Contains("ErrorTlsRequired", plain.Message);
        await using (var alice = await ConnectAsync(port, "rec", tls.Client("alice")))
        {
            await alice.FlushAsync();
        }

        Assert.Equal("CN=alice", Assert.Single(_recording.Seen).Name);
    }

    [Fact]
    public async Task With_client_certificates_required_a_plaintext_connection_never_reaches_an_export()
    {
        // A connection that did not come through a listener (an in-process pipe) cannot start TLS at all.
        _server = new NbdServer(new ExportRegistry([_recording]), new NbdServerOptions { Tls = tls.Credentials(requireClientCertificate: true) });
        var toServer = new System.IO.Pipelines.Pipe();
        var toClient = new System.IO.Pipelines.Pipe();
        var served = _server.ServeAsync(new DuplexPipe(toServer.Reader, toClient.Writer));
        await toServer.Writer.WriteAsync(RawNbd.BigEndian32((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)));
        await toServer.Writer.WriteAsync(RawNbd.Option((uint)NbdOption.Go, RawNbd.InfoPayload("rec")));
        await toServer.Writer.WriteAsync(RawNbd.Option((uint)NbdOption.ExportName, "rec"u8.ToArray()));
        await toServer.Writer.CompleteAsync();
        await served.WaitAsync(TimeSpan.FromSeconds(10));

        var answer = (await toClient.Reader.ReadAtLeastAsync(int.MaxValue)).Buffer.ToArray();
        // The greeting, TLS_REQD for GO, and nothing for EXPORT_NAME (it has no error reply): the connection closed.
        Assert.Equal((uint)NbdOptionReplyType.ErrorTlsRequired, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(answer.AsSpan(18 + 12)));
        Assert.Equal(18 + 20 + System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(answer.AsSpan(18 + 16)), (uint)answer.Length);
        Assert.Empty(_recording.Seen);
    }

    [Fact]
    public async Task Without_a_client_ca_clients_are_not_asked_for_certificates_and_are_anonymous()
    {
        var port = Listen(NbdTlsMode.Require, tls.Credentials(verifyClients: false));
        await using var client = await ConnectAsync(port, "rec", tls.Client("alice"));
        await client.FlushAsync();
        Assert.Equal(NbdClientIdentity.Anonymous, Assert.Single(_recording.Seen).Name);
    }

    [Fact]
    public async Task An_export_with_allowed_clients_refuses_others_with_err_policy_and_other_exports_carry_on()
    {
        var port = Listen(NbdTlsMode.On);
        var bob = await Assert.ThrowsAsync<NbdClientException>(() => ConnectAsync(port, "secret", tls.Client("bob")));
        Assert.Contains("ErrorPolicy", bob.Message);
        Assert.Contains("CN=bob", bob.Message);
        var plain = await Assert.ThrowsAsync<NbdClientException>(() => ConnectAsync(port, "secret", null));
        Assert.Contains("anonymous", plain.Message);

        await using (var alice = await ConnectAsync(port, "secret", tls.Client("alice")))
        {
            await alice.FlushAsync();
        }

        await using var bobElsewhere = await ConnectAsync(port, "mem", tls.Client("bob"));
        await bobElsewhere.FlushAsync();
    }

    [Fact]
    public async Task List_names_only_the_exports_this_client_may_attach_and_info_keeps_the_rest_to_itself()
    {
        // Regression: on a tls=on listener an anonymous plaintext LIST showed 'secret', which only alice may attach.
        var port = Listen(NbdTlsMode.On);
        Assert.Equal(["mem", "rec"], await ListAsync(port, null));
        Assert.Equal(["mem", "rec"], await ListAsync(port, tls.Client("bob")));
        Assert.Equal(["mem", "rec", "secret"], await ListAsync(port, tls.Client("alice")));

        await using var raw = await RawNbd.ConnectAsync(port);
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.Info, RawNbd.InfoPayload("secret", NbdInfoType.Description));
        var replies = await raw.ReadOptionRepliesAsync();
        Assert.Equal(NbdOptionReplyType.ErrorPolicy, Assert.Single(replies).Type); // no size, no description
    }

    /// <summary>LIST as a raw client, after STARTTLS when <paramref name="options"/> is given; the names listed.</summary>
    private static async Task<string[]> ListAsync(int port, System.Net.Security.SslClientAuthenticationOptions? options)
    {
        await using var raw = await RawNbd.ConnectAsync(port);
        await raw.GreetAsync();
        if (options is not null)
        {
            await raw.SendOptionAsync((uint)NbdOption.StartTls);
            Assert.Equal(NbdOptionReplyType.Ack, (await raw.ReadOptionReplyAsync()).Type);
            await raw.UpgradeToTlsAsync(options);
        }

        await raw.SendOptionAsync((uint)NbdOption.List);
        var replies = await raw.ReadOptionRepliesAsync();
        Assert.Equal(NbdOptionReplyType.Ack, replies[^1].Type);
        return replies.SkipLast(1)
            .Select(r => System.Text.Encoding.UTF8.GetString(r.Data, 4, (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(r.Data)))
            .ToArray();
    }

    [Fact]
    public async Task A_renewed_certificate_on_disk_is_used_by_the_next_connection_without_a_restart()
    {
        var serving = Path.Combine(tls.Root, $"serving-{Guid.NewGuid():N}");
        Directory.CreateDirectory(serving);
        foreach (var name in new[] { "server-cert.pem", "server-key.pem" })
        {
            File.Copy(Path.Combine(tls.Ca, name), Path.Combine(serving, name));
        }

        var credentials = new TlsCredentials(Path.Combine(serving, "server-cert.pem"), Path.Combine(serving, "server-key.pem"));
        var port = Listen(NbdTlsMode.Require, credentials);
        await using (var before = await ConnectAsync(port, "mem", tls.Client(null)))
        {
            await before.FlushAsync();
        }

        // Renew: a certificate from the other CA replaces the files (key first, as a renewal script would).
        File.Copy(Path.Combine(tls.OtherCa, "server-key.pem"), Path.Combine(serving, "server-key.pem"), overwrite: true);
        File.Copy(Path.Combine(tls.OtherCa, "server-cert.pem"), Path.Combine(serving, "server-cert.pem"), overwrite: true);
        await Assert.ThrowsAsync<AuthenticationException>(() => ConnectAsync(port, "mem", tls.Client(null)));
        await using var after = await ConnectAsync(port, "mem", tls.Client(null, trustedCaDirectory: tls.OtherCa));
        await after.FlushAsync();
    }

    [Fact]
    public async Task A_half_written_certificate_keeps_the_previous_one_in_use()
    {
        var serving = Path.Combine(tls.Root, $"serving-{Guid.NewGuid():N}");
        Directory.CreateDirectory(serving);
        File.Copy(Path.Combine(tls.Ca, "server-cert.pem"), Path.Combine(serving, "server-cert.pem"));
        File.Copy(Path.Combine(tls.Ca, "server-key.pem"), Path.Combine(serving, "server-key.pem"));
        var credentials = new TlsCredentials(Path.Combine(serving, "server-cert.pem"), Path.Combine(serving, "server-key.pem"));
        var port = Listen(NbdTlsMode.Require, credentials);

        File.WriteAllText(Path.Combine(serving, "server-cert.pem"), "-----BEGIN CERTIFICATE-----\nMIIB");
        Assert.Contains("cannot be loaded", credentials.Refresh());
        await using var client = await ConnectAsync(port, "mem", tls.Client(null));
        await client.FlushAsync();
    }

    [Fact]
    public void Credentials_that_cannot_be_used_say_which_file_is_wrong()
    {
        var missing = Assert.Throws<TlsCredentialsException>(() => new TlsCredentials(Path.Combine(tls.Root, "nope.pem"), Path.Combine(tls.Ca, "server-key.pem")));
        Assert.Contains("nope.pem", missing.Message);
        var mismatched = Assert.ThrowsAny<Exception>(() => new TlsCredentials(Path.Combine(tls.Ca, "server-cert.pem"), Path.Combine(tls.OtherCa, "server-key.pem")));
        Assert.Contains("server-cert.pem", mismatched.Message);
        Assert.Throws<TlsCredentialsException>(() => new TlsCredentials(Path.Combine(tls.Ca, "server-cert.pem"), Path.Combine(tls.Ca, "server-key.pem"), requireClientCertificate: true));
        Assert.Throws<ArgumentException>(() => new NbdServer(new ExportRegistry([new MemoryExport("m", 4096)])).ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), NbdTlsMode.On));
    }

    private sealed class DuplexPipe(System.IO.Pipelines.PipeReader input, System.IO.Pipelines.PipeWriter output) : System.IO.Pipelines.IDuplexPipe
    {
        public System.IO.Pipelines.PipeReader Input { get; } = input;

        public System.IO.Pipelines.PipeWriter Output { get; } = output;
    }

    /// <summary>Records who attaches (GO or EXPORT_NAME), and lets everyone in.</summary>
    private sealed class RecordingExport(INbdExport inner) : DelegatingExport(inner), IAttachableExport
    {
        private readonly ConcurrentQueue<NbdClientIdentity> _seen = new();

        public IReadOnlyList<NbdClientIdentity> Seen => [.. _seen];

        public ValueTask<NbdAttachment> AttachAsync(NbdClientIdentity client, CancellationToken cancellationToken)
        {
            _seen.Enqueue(client);
            return ValueTask.FromResult(NbdAttachment.Serve(this));
        }
    }
}
