using System.Buffers;
using System.Numerics;

namespace BlockSim.Benchmarks.Nbd;

/// <summary>
/// The in-memory transport's buffers, kept and reused as a kernel socket's are. Pipes over the shared pool
/// take 64 KiB arrays from ArrayPool.Shared, which drops what it holds when the collector runs and keeps
/// only so many per core; a burst of large replies then allocates now and then, and that would be counted
/// against the server although a real socket costs the process nothing. With this pool the Allocated
/// column is the server's own.
/// </summary>
internal sealed class RecyclingMemoryPool : MemoryPool<byte>
{
    private const int SmallestBlock = 64 * 1024;
    private readonly Stack<Block>[] _free = Enumerable.Range(0, 16).Select(_ => new Stack<Block>()).ToArray();

    public override int MaxBufferSize => SmallestBlock << (_free.Length - 1);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        var size = minBufferSize <= SmallestBlock ? SmallestBlock : (int)BitOperations.RoundUpToPowerOf2((uint)minBufferSize);
        var sizeClass = BitOperations.Log2((uint)(size / SmallestBlock));
        lock (_free)
        {
            if (_free[sizeClass].TryPop(out var block))
            {
                return block;
            }
        }

        return new Block(this, sizeClass, new byte[size]);
    }

    protected override void Dispose(bool disposing)
    {
    }

    private void Return(Block block)
    {
        lock (_free)
        {
            _free[block.SizeClass].Push(block);
        }
    }

    private sealed class Block(RecyclingMemoryPool pool, int sizeClass, byte[] array) : IMemoryOwner<byte>
    {
        public int SizeClass => sizeClass;

        public Memory<byte> Memory => array;

        public void Dispose() => pool.Return(this);
    }
}
