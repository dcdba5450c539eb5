namespace IngestCluster.Node.Egress;

/// <summary>
/// Puts native IPv4 multicast datagrams onto the downstream LAN. The tunnels' receive loops call it for every
/// Multicast Data packet they accepted, so implementations must not allocate or block beyond the send itself.
/// </summary>
public interface INativeEgress : IDisposable
{
    /// <summary>The downstream interface the datagrams leave by.</summary>
    string InterfaceName { get; }

    /// <summary>Sends one IPv4 datagram, header included, whose TTL the caller has already decremented.
    /// Returns false when the send failed; the egress counts the failure.</summary>
    bool Send(ReadOnlySpan<byte> ipv4Datagram);

    /// <summary>A batch of datagrams to send together, for one thread. The default sends them one by one with
    /// <see cref="Send"/>; <see cref="NativeEgress"/> on Linux sends them with one sendmmsg.</summary>
    IEgressBatch OpenBatch(int capacity) => new SequentialEgressBatch(this, capacity);
}

/// <summary>
/// Datagrams queued by one thread and sent together by <see cref="Flush"/>. The batch keeps pointers, not copies:
/// a queued datagram's memory must not move or be reused until the flush (native memory or a pinned array), which
/// is what lets the receive loops forward straight out of their receive buffers. Nothing is allocated per datagram
/// or per flush; the egress counts what was sent and what failed.
/// </summary>
public interface IEgressBatch : IDisposable
{
    int Capacity { get; }

    /// <summary>Datagrams queued since the last flush.</summary>
    int Count { get; }

    /// <summary>Queues one IPv4 datagram, header included. False (and counted as malformed by the egress) when it
    /// is too short to be IPv4; <see cref="InvalidOperationException"/> when the batch is full.</summary>
    bool Add(ReadOnlySpan<byte> ipv4Datagram);

    /// <summary>Sends every queued datagram and returns how many left. <see cref="WasSent"/> says which, until the
    /// next <see cref="Add"/>.</summary>
    int Flush();

    bool WasSent(int index);
}

/// <summary>The portable batch: one <see cref="INativeEgress.Send"/> per datagram.</summary>
internal sealed unsafe class SequentialEgressBatch(INativeEgress egress, int capacity) : IEgressBatch
{
    private readonly nint[] _datagrams = new nint[capacity];
    private readonly int[] _lengths = new int[capacity];
    private readonly bool[] _sent = new bool[capacity];
    private bool _flushed;

    public int Capacity => _datagrams.Length;

    public int Count { get; private set; }

    public bool Add(ReadOnlySpan<byte> ipv4Datagram)
    {
        if (_flushed)
        {
            Count = 0;
            _flushed = false;
        }
        if (Count == _datagrams.Length)
        {
            throw new InvalidOperationException($"the egress batch is full ({Capacity} datagrams): flush it first");
        }
        fixed (byte* p = ipv4Datagram)
        {
            _datagrams[Count] = (nint)p;
        }
        _lengths[Count] = ipv4Datagram.Length;
        Count++;
        return true;
    }

    public int Flush()
    {
        int sent = 0;
        for (int i = _flushed ? Count : 0; i < Count; i++)
        {
            _sent[i] = egress.Send(new ReadOnlySpan<byte>((void*)_datagrams[i], _lengths[i]));
            sent += _sent[i] ? 1 : 0;
        }
        _flushed = true;
        return sent;
    }

    public bool WasSent(int index) => _sent[index];

    public void Dispose()
    {
    }
}
