using System.Net.Sockets;
using System.Runtime.InteropServices;
using IngestCluster.Node.Native;

namespace IngestCluster.Node.Egress;

/// <summary>
/// The Linux batch of a <see cref="NativeEgress"/>: one sendmmsg for every queued datagram, over mmsghdr, iovec and
/// address arrays (sockaddr_ll or sockaddr_in, as the egress's socket takes) allocated once in native memory (so a
/// flush costs no allocation and no pinning). The destination of each message is the datagram's own IPv4
/// destination (its multicast MAC address for a packet socket); either socket sends our header as it is. A datagram the kernel refuses is skipped and counted, and the rest of the batch still goes.
///
/// UDP_SEGMENT (GSO) does not apply here: it segments the payload of a UDP socket's send, and a raw IP_HDRINCL
/// socket sends whole IP datagrams that it never segments; each forwarded datagram costs one message.
/// </summary>
internal sealed unsafe class SendMMsgBatch : IEgressBatch
{
    private const int Ipv4MinHeaderLength = 20;

    private readonly NativeEgress _egress;
    private readonly int _nameLength;
    private readonly LinuxSockets.MMsgHdr* _messages;
    private readonly LinuxSockets.IoVec* _iov;
    private readonly byte* _names;
    private readonly bool[] _sent;
    private bool _flushed;
    private bool _disposed;

    public SendMMsgBatch(NativeEgress egress, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _egress = egress;
        Capacity = capacity;
        _messages = (LinuxSockets.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(capacity * sizeof(LinuxSockets.MMsgHdr)));
        _iov = (LinuxSockets.IoVec*)NativeMemory.AllocZeroed((nuint)(capacity * sizeof(LinuxSockets.IoVec)));
        _nameLength = egress.NameLength;
        _names = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * _nameLength));
        _sent = new bool[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _messages[i].Header.Iov = _iov + i;
            _messages[i].Header.IovLength = 1;
            _messages[i].Header.Name = _names + (i * _nameLength);
            _messages[i].Header.NameLength = (uint)_nameLength;
            egress.InitName(_names + (i * _nameLength));
        }
    }

    public int Capacity { get; }

    public int Count { get; private set; }

    public bool Add(ReadOnlySpan<byte> ipv4Datagram)
    {
        if (_flushed)
        {
            Count = 0;
            _flushed = false;
        }
        if (Count == Capacity)
        {
            throw new InvalidOperationException($"the egress batch is full ({Capacity} datagrams): flush it first");
        }
        if (ipv4Datagram.Length < Ipv4MinHeaderLength || ipv4Datagram[0] >> 4 != 4)
        {
            _egress.CountMalformed();
            return false;
        }
        fixed (byte* datagram = ipv4Datagram)
        {
            _iov[Count].Base = datagram;
            _iov[Count].Length = (nuint)ipv4Datagram.Length;
            _egress.SetDestination(_names + (Count * _nameLength), datagram);
        }
        Count++;
        return true;
    }

    public int Flush()
    {
        if (_flushed || Count == 0)
        {
            _flushed = true;
            return 0;
        }
        bool added = false;
        var handle = _egress.Handle;
        int sent = 0, failed = 0;
        long bytes = 0;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            int next = 0;
            while (next < Count)
            {
                int r = LinuxSockets.SendMMsg(fd, _messages + next, (uint)(Count - next), 0);
                if (r < 0)
                {
                    if (Marshal.GetLastPInvokeError() == LinuxSockets.EIntr)
                    {
                        continue;
                    }
                    // The message at `next` was refused: count it and send the rest.
                    _sent[next++] = false;
                    failed++;
                    continue;
                }
                for (int i = next; i < next + r; i++)
                {
                    _sent[i] = true;
                    bytes += (long)_iov[i].Length;
                }
                sent += r;
                next += r;
            }
        }
        catch (ObjectDisposedException)
        {
            for (int i = sent + failed; i < Count; i++)
            {
                _sent[i] = false;
            }
            failed = Count - sent;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
        _flushed = true;
        _egress.CountBatch(sent, bytes, failed);
        return sent;
    }

    public bool WasSent(int index) => _sent[index];

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        NativeMemory.Free(_messages);
        NativeMemory.Free(_iov);
        NativeMemory.Free(_names);
    }
}
