using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Faults;

namespace BlockSim.Storage.Tests;

/// <summary>
/// An encrypted memory export: the cipher over run-time control over memory. With nothing to do, control
/// lends memory's pages to the cipher (one pass, no copy), yet every request still counts; once a rule or a
/// pause exists, requests go through control again.
/// </summary>
public class ControlUnderCipherTests
{
    private const int Sector = 512;

    [Fact]
    public async Task Without_rules_the_cipher_works_in_memorys_pages_and_each_request_takes_a_sequence_number()
    {
        var (encrypted, control, memory) = Stack();
        var plaintext = Pattern(8 * Sector);

        await encrypted.WriteAsync(4 * Sector, plaintext);
        var back = new byte[plaintext.Length];
        await encrypted.ReadAsync(4 * Sector, back);

        Assert.Equal(plaintext, back);
        Assert.Equal(2, control.Sequence);
        var stored = new byte[plaintext.Length];
        await memory.ReadAsync(4 * Sector, stored);
        Assert.NotEqual(plaintext, stored); // ciphertext in the pages
        Assert.True(control.TryEnter(out var next) && next == 3); // nothing left counted in flight by the loans
        control.Exit();
    }

    [Fact]
    public async Task A_rule_under_the_cipher_faults_the_aligned_requests_that_were_lent_before_it()
    {
        var (encrypted, control, _) = Stack();
        await encrypted.WriteAsync(0, Pattern(4 * Sector));
        control.Add(new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Read | FaultOperations.Write, FirstSector = 1, LastSector = 1, Errno = FaultRule.EIO });

        await Assert.ThrowsAsync<InjectedFaultException>(async () => await encrypted.ReadAsync(0, new byte[4 * Sector]));
        await Assert.ThrowsAsync<InjectedFaultException>(async () => await encrypted.WriteAsync(Sector, new byte[Sector]));
        await encrypted.ReadAsync(2 * Sector, new byte[2 * Sector]); // outside the range
        Assert.Equal(2, control.Events().Count(e => e.Event == "fault"));
    }

    [Fact]
    public async Task A_bit_flipped_below_the_cipher_garbles_one_16_byte_block_of_plaintext()
    {
        var (encrypted, control, _) = Stack();
        var plaintext = Pattern(Sector);
        await encrypted.WriteAsync(0, plaintext);
        control.Add(new FaultRule { Kind = FaultKind.BitFlip, Operations = FaultOperations.Read, FirstSector = 0, LastSector = 0 });

        var back = new byte[Sector];
        await encrypted.ReadAsync(0, back);

        var differing = Enumerable.Range(0, Sector).Where(i => back[i] != plaintext[i]).ToList();
        Assert.NotEmpty(differing);
        Assert.Equal(differing[0] / 16, differing[^1] / 16); // XTS: one cipher block of garbage, the rest intact
    }

    [Fact]
    public async Task A_pause_holds_a_request_that_would_otherwise_have_been_lent()
    {
        var (encrypted, control, _) = Stack();
        await control.PauseAsync();

        var read = encrypted.ReadAsync(0, new byte[Sector]).AsTask();
        await Task.Delay(100);
        Assert.False(read.IsCompleted);

        control.Resume();
        await read.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_bit_flipped_above_the_cipher_changes_one_bit_of_what_is_read_and_the_request_keeps_one_number()
    {
        var (encrypted, control, _) = Stack();
        var top = new PlaintextFaultDevice(encrypted, control);
        var plaintext = Pattern(2 * Sector);
        await top.WriteAsync(0, plaintext);
        control.Add(new FaultRule { Kind = FaultKind.BitFlip, Operations = FaultOperations.Read, FirstSector = 1, LastSector = 1, AboveCipher = true });

        var back = new byte[2 * Sector];
        await top.ReadAsync(0, back);

        Assert.Equal(1, DifferingBits(plaintext, back));
        Assert.InRange(Enumerable.Range(0, back.Length).First(i => back[i] != plaintext[i]), Sector, (2 * Sector) - 1);
        Assert.Equal(2, control.Sequence); // the write, and the read entered once above and not again below
        Assert.Contains(control.Events(), e => e.Event == "fault" && e.Sequence == 2 && e.Detail!.Contains("above the cipher", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_bit_flipped_above_the_cipher_on_a_write_is_stored_with_one_bit_changed_and_the_callers_buffer_untouched()
    {
        var (encrypted, control, _) = Stack();
        var top = new PlaintextFaultDevice(encrypted, control);
        control.Add(new FaultRule { Kind = FaultKind.BitFlip, Operations = FaultOperations.Write, AboveCipher = true, Count = 1 });
        var plaintext = Pattern(Sector);
        var sent = plaintext.ToArray();

        await top.WriteAsync(0, sent);
        var back = new byte[Sector];
        await top.ReadAsync(0, back);

        Assert.Equal(plaintext, sent);
        Assert.Equal(1, DifferingBits(plaintext, back));
    }

    [Fact]
    public async Task Rules_of_one_layer_leave_the_other_alone()
    {
        var (encrypted, control, _) = Stack();
        var top = new PlaintextFaultDevice(encrypted, control);
        var plaintext = Pattern(Sector);
        await top.WriteAsync(0, plaintext);
        control.Add(new FaultRule { Kind = FaultKind.BitFlip, Operations = FaultOperations.Read, FirstSector = 0, LastSector = 0, AboveCipher = true });

        var below = new byte[Sector];
        await encrypted.ReadAsync(0, below); // straight into the cipher's stack: the above-cipher rule is not there
        Assert.Equal(plaintext, below);
        Assert.DoesNotContain(control.Events(), e => e.Event == "fault");
    }

    [Fact]
    public void Only_bit_flips_go_above_the_cipher()
    {
        var control = new SimulationControl(7, Sector, 1 << 20);
        var refused = Assert.Throws<ArgumentException>(() => control.Add(new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Read, AboveCipher = true }));
        Assert.Contains("only bit flips", refused.Message, StringComparison.Ordinal);
    }

    private static int DifferingBits(byte[] a, byte[] b) => a.Zip(b, (x, y) => System.Numerics.BitOperations.PopCount((uint)(x ^ y))).Sum();

    private static (EncryptedBlockDevice Encrypted, SimulationControl Control, MemoryBlockDevice Memory) Stack()
    {
        var memory = new MemoryBlockDevice(1 << 20);
        var control = new SimulationControl(7, Sector, memory.Capacity);
        return (EncryptedBlockDevice.WithEphemeralKey(new ControlledDevice(memory, control), Sector), control, memory);
    }

    private static byte[] Pattern(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 + 1)).ToArray();
}
