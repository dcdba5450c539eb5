using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Native;
using IngestCluster.Protocols.Amt;

namespace IngestCluster.Node.Tunnels;

/// <summary>
/// The Linux receive reactor: a fixed set of threads serves every tunnel socket. Each thread has its own epoll set;
/// a tunnel is registered with the least loaded thread and stays there. A wake-up drains each ready socket with
/// recvmmsg (MSG_DONTWAIT, a few batches at most, so that one busy tunnel cannot starve the others; epoll is
/// level-triggered and brings it back), runs each datagram through its tunnel's receive step, and forwards what
/// passed with one sendmmsg per egress for the datagrams of every socket of the wake-up (the forward step).
/// <para>
/// Receive buffers, message headers and the egress batches belong to the thread, not to the tunnel, and are
/// allocated once: a packet costs no allocation, and an idle tunnel costs its socket and a slot in a table.
/// Registrations are commands run by the thread itself between wake-ups (an eventfd wakes it), so the tables
/// need no lock; a registered socket's handle is referenced until its removal has run, so the descriptor cannot be
/// closed (or reused) under the thread. Disposing a socket shuts it down and waits for that reference: the thread
/// sees the hang-up and lets the socket go, whether or not its removal was asked for first.
/// </para>
/// <para>
/// With UDP GRO (<see cref="UdpGro"/>), the kernel may hand over several datagrams of the relay concatenated, with
/// a UDP_GRO control message giving each one's size; the receive step splits them.
/// </para>
/// </summary>
public sealed class TunnelReactor : ITunnelReceiver
{
    private readonly ReactorThread[] _threads;
    private readonly ConcurrentDictionary<TunnelDataPath, ReactorThread> _placement = new();
    private readonly int _batch;

    public TunnelReactor(int threads, int batch, bool udpGro, NodeMetrics metrics)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the tunnel reactor needs epoll (Linux)");
        }
        _batch = Math.Clamp(batch, 1, 1024);
        UdpGro = udpGro;
        var errors = metrics.Counter("ingest_tunnel_receive_errors_total", help: "Receive system calls of the tunnels' reactor that failed (ICMP errors included).");
        var coalesced = metrics.Counter("ingest_tunnel_gro_coalesced_total", help: "Receives that carried several datagrams coalesced by UDP GRO.");
        _threads = [.. Enumerable.Range(0, Math.Max(1, threads)).Select(i => new ReactorThread(i, _batch, udpGro, errors, coalesced))];
    }

    public int ThreadCount => _threads.Length;

    public bool UdpGro { get; }

    /// <summary>Tunnels registered.</summary>
    public int Count => _placement.Count;

    public string Description => $"{_threads.Length} epoll receive thread(s), batches of {_batch}{(UdpGro ? ", UDP GRO" : "")}";

    public Task Add(TunnelDataPath path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var thread = _threads.MinBy(t => Volatile.Read(ref t.Load))!;
        if (!_placement.TryAdd(path, thread))
        {
            throw new InvalidOperationException($"the tunnel to {path.Relay} is registered already");
        }
        Interlocked.Increment(ref thread.Load);
        return thread.Post(path, add: true);
    }

    public Task Remove(TunnelDataPath path)
    {
        if (!_placement.TryRemove(path, out var thread))
        {
            return Task.CompletedTask;
        }
        Interlocked.Decrement(ref thread.Load);
        return thread.Post(path, add: false);
    }

    private volatile bool _disposed;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var thread in _threads)
        {
            thread.Stop();
        }
        _placement.Clear();
    }

    private sealed record Command(TunnelDataPath Path, bool Add, TaskCompletionSource Done);

    /// <summary>One receive thread, its epoll set and its buffers.</summary>
    private sealed unsafe class ReactorThread
    {
        private const int NameLength = 16;
        private const int ControlLength = 64;
        private const int MaxEvents = 256;
        private const int RoundsPerWake = 4;
        private const ulong WakeData = ulong.MaxValue;

        public int Load;

        private readonly int _rxCount;
        private readonly int _slotSize;
        private readonly int _txCapacity;
        private readonly bool _gro;
        private readonly MetricCounter _errors;
        private readonly MetricCounter _coalesced;
        private readonly ConcurrentQueue<Command> _commands = new();
        private readonly Dictionary<TunnelDataPath, int> _index = [];
        private readonly Stack<int> _free = new();
        private readonly List<Lane> _lanes = [];
        private readonly Thread _thread;
        private readonly int _epoll;
        private readonly int _wake;
        private TunnelDataPath?[] _slots = new TunnelDataPath?[64];
        private SafeHandle?[] _handles = new SafeHandle?[64];
        private int[] _fds = new int[64];
        private uint[] _generations = new uint[64];
        private int _slotsUsed;
        private int _used;
        private volatile bool _stopping;

        private readonly LinuxSockets.MMsgHdr* _rx;
        private readonly LinuxSockets.IoVec* _iov;
        private readonly byte* _names;
        private readonly byte* _control;
        private readonly byte* _buffers;
        private readonly byte* _events;

        public ReactorThread(int number, int batch, bool gro, MetricCounter errors, MetricCounter coalesced)
        {
            _gro = gro;
            _errors = errors;
            _coalesced = coalesced;
            // Without GRO a datagram is at most an MTU; with it, up to 64 KiB of coalesced datagrams.
            _slotSize = gro ? 65_536 : 4_096;
            _rxCount = gro ? Math.Min(batch, 16) : batch;
            _txCapacity = gro ? 1024 : batch;
            _epoll = LinuxSockets.EpollCreate1(LinuxSockets.EpollCloExec);
            _wake = LinuxSockets.EventFd(0, LinuxSockets.EfdCloExec | LinuxSockets.EfdNonBlock);
            if (_epoll < 0 || _wake < 0)
            {
                throw new SocketException(Marshal.GetLastPInvokeError());
            }
            var ev = stackalloc byte[16];
            LinuxSockets.WriteEpollEvent(ev, LinuxSockets.EpollIn, WakeData);
            if (LinuxSockets.EpollCtl(_epoll, LinuxSockets.EpollCtlAdd, _wake, ev) != 0)
            {
                throw new SocketException(Marshal.GetLastPInvokeError());
            }
            _rx = (LinuxSockets.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(_rxCount * sizeof(LinuxSockets.MMsgHdr)));
            _iov = (LinuxSockets.IoVec*)NativeMemory.AllocZeroed((nuint)(_rxCount * sizeof(LinuxSockets.IoVec)));
            _names = (byte*)NativeMemory.AllocZeroed((nuint)(_rxCount * NameLength));
            _control = (byte*)NativeMemory.AllocZeroed((nuint)(_rxCount * ControlLength));
            _buffers = (byte*)NativeMemory.Alloc((nuint)_rxCount * (nuint)_slotSize);
            _events = (byte*)NativeMemory.AllocZeroed((nuint)(MaxEvents * 16));
            for (int i = 0; i < _rxCount; i++)
            {
                _iov[i].Base = _buffers + ((long)i * _slotSize);
                _iov[i].Length = (nuint)_slotSize;
                _rx[i].Header.Iov = _iov + i;
                _rx[i].Header.IovLength = 1;
                _rx[i].Header.Name = _names + (i * NameLength);
            }
            _thread = new Thread(Run) { IsBackground = true, Name = $"amt-rx-{number}" };
            _thread.Start();
        }

        public Task Post(TunnelDataPath path, bool add)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _commands.Enqueue(new Command(path, add, done));
            Wake();
            if (_stopping)
            {
                done.TrySetResult(); // the thread has ended, or is ending and unregisters everything
            }
            return done.Task;
        }

        public void Stop()
        {
            _stopping = true;
            Wake();
            if (Thread.CurrentThread != _thread)
            {
                _thread.Join(TimeSpan.FromSeconds(5));
            }
        }

        private void Wake()
        {
            ulong one = 1;
            LinuxSockets.Write(_wake, &one, 8);
        }

        private void Run()
        {
            try
            {
                while (!_stopping)
                {
                    RunCommands();
                    int ready = LinuxSockets.EpollWait(_epoll, _events, MaxEvents, -1);
                    if (ready < 0)
                    {
                        continue; // EINTR
                    }
                    long now = Environment.TickCount64;
                    for (int k = 0; k < ready; k++)
                    {
                        ulong data = LinuxSockets.ReadEpollData(_events, k);
                        if (data == WakeData)
                        {
                            ulong value;
                            LinuxSockets.Read(_wake, &value, 8);
                            continue;
                        }
                        int slot = (int)(uint)data;
                        if (slot < _slotsUsed && _generations[slot] == (uint)(data >> 32) && _slots[slot] is { } path)
                        {
                            Drain(path, _fds[slot], now);
                            if ((LinuxSockets.ReadEpollEvents(_events, k) & LinuxSockets.EpollHup) != 0)
                            {
                                // Socket.Dispose shuts the socket down, then waits for our reference: the tunnel
                                // is closing, with or without a Remove queued. Let it go now.
                                FlushAll();
                                Unregister(path);
                            }
                        }
                    }
                    FlushAll();
                }
            }
            finally
            {
                RunCommands();
                foreach (var (path, _) in _index.ToList())
                {
                    Unregister(path);
                }
                while (_commands.TryDequeue(out var left))
                {
                    left.Done.TrySetResult();
                }
                foreach (var lane in _lanes)
                {
                    lane.Batch.Dispose();
                }
                LinuxSockets.Close(_epoll);
                LinuxSockets.Close(_wake);
                NativeMemory.Free(_rx);
                NativeMemory.Free(_iov);
                NativeMemory.Free(_names);
                NativeMemory.Free(_control);
                NativeMemory.Free(_buffers);
                NativeMemory.Free(_events);
            }
        }

        private void RunCommands()
        {
            while (_commands.TryDequeue(out var command))
            {
                try
                {
                    if (command.Add)
                    {
                        Register(command.Path);
                    }
                    else
                    {
                        Unregister(command.Path);
                    }
                    command.Done.TrySetResult();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
                {
                    command.Done.TrySetException(e);
                }
            }
        }

        private void Register(TunnelDataPath path)
        {
            if (_index.ContainsKey(path))
            {
                return;
            }
            var handle = path.Socket.SafeHandle;
            bool added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                int fd = (int)handle.DangerousGetHandle();
                if (_gro)
                {
                    Span<byte> on = [1, 0, 0, 0];
                    path.Socket.SetRawSocketOption(LinuxSockets.SolUdp, LinuxSockets.UdpGro, on);
                }
                int slot = _free.Count > 0 ? _free.Pop() : NewSlot();
                uint generation = ++_generations[slot];
                var ev = stackalloc byte[16];
                LinuxSockets.WriteEpollEvent(ev, LinuxSockets.EpollIn, ((ulong)generation << 32) | (uint)slot);
                if (LinuxSockets.EpollCtl(_epoll, LinuxSockets.EpollCtlAdd, fd, ev) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    _free.Push(slot);
                    throw new SocketException(errno);
                }
                _slots[slot] = path;
                _fds[slot] = fd;
                _handles[slot] = handle;
                _index[path] = slot;
            }
            catch
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
                throw;
            }
        }

        private int NewSlot()
        {
            if (_slotsUsed == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
                Array.Resize(ref _handles, _handles.Length * 2);
                Array.Resize(ref _fds, _fds.Length * 2);
                Array.Resize(ref _generations, _generations.Length * 2);
            }
            return _slotsUsed++;
        }

        private void Unregister(TunnelDataPath path)
        {
            if (!_index.Remove(path, out int slot))
            {
                return;
            }
            LinuxSockets.EpollCtl(_epoll, LinuxSockets.EpollCtlDel, _fds[slot], null);
            _slots[slot] = null;
            _generations[slot]++;
            _handles[slot]!.DangerousRelease();
            _handles[slot] = null;
            _free.Push(slot);
        }

        /// <summary>Receives what the socket holds, a few batches at most.</summary>
        private void Drain(TunnelDataPath path, int fd, long now)
        {
            for (int round = 0; round < RoundsPerWake; round++)
            {
                if (_used == _rxCount)
                {
                    FlushAll();
                }
                int free = _rxCount - _used;
                for (int i = _used; i < _used + free; i++)
                {
                    _rx[i].Header.NameLength = NameLength;
                    if (_gro)
                    {
                        _rx[i].Header.Control = _control + (i * ControlLength);
                        _rx[i].Header.ControlLength = ControlLength;
                    }
                }
                int received = LinuxSockets.RecvMMsg(fd, _rx + _used, (uint)free, LinuxSockets.MsgDontWait, null);
                if (received <= 0)
                {
                    if (received < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == LinuxSockets.EAgain)
                        {
                            return;
                        }
                        // ICMP errors (a dead relay's port unreachable) and the like; the control plane's timers
                        // deal with a relay that does not answer. Try again, within the round limit.
                        _errors.Increment();
                        continue;
                    }
                    return;
                }
                for (int i = _used; i < _used + received; i++)
                {
                    Receive(path, i, now);
                }
                _used += received;
                if (received < free)
                {
                    return;
                }
            }
        }

        /// <summary>The receive step for one message of the batch: peer, truncation, GRO segments, then the tunnel's checks.</summary>
        private void Receive(TunnelDataPath path, int i, long now)
        {
            if (*(ulong*)(_names + (i * NameLength)) != path.RelayKey)
            {
                path.CountDrop(TunnelDrop.WrongPeer);
                return;
            }
            if ((_rx[i].Header.Flags & LinuxSockets.MsgTrunc) != 0)
            {
                path.CountDrop(TunnelDrop.MalformedAmt);
                return;
            }
            byte* buffer = _buffers + ((long)i * _slotSize);
            int length = (int)_rx[i].Length;
            int segment = _gro ? GroSegmentSize(ref _rx[i].Header, length) : length;
            if (segment <= 0)
            {
                segment = Math.Max(1, length);
            }
            else if (segment < length)
            {
                _coalesced.Increment();
            }
            for (int offset = 0; offset < length || (offset == 0 && length == 0); offset += segment)
            {
                var message = new Span<byte>(buffer + offset, Math.Min(segment, length - offset));
                if (path.Accept(message, now, out int datagramLength, out var flow))
                {
                    Forward(path, flow!, message.Slice(AmtMulticastData.HeaderLength, datagramLength));
                }
                if (length == 0)
                {
                    break;
                }
            }
        }

        /// <summary>The gso_size of a UDP_GRO control message, or <paramref name="length"/> when there is none.</summary>
        private static int GroSegmentSize(ref LinuxSockets.MsgHdr header, int length)
        {
            byte* control = (byte*)header.Control;
            nuint total = header.ControlLength;
            nuint offset = 0;
            while (offset + (nuint)sizeof(LinuxSockets.CMsgHdr) <= total)
            {
                var cmsg = (LinuxSockets.CMsgHdr*)(control + offset);
                if (cmsg->Length < (nuint)sizeof(LinuxSockets.CMsgHdr))
                {
                    break;
                }
                if (cmsg->Level == LinuxSockets.SolUdp && cmsg->Type == LinuxSockets.UdpGro && cmsg->Length >= (nuint)sizeof(LinuxSockets.CMsgHdr) + 4)
                {
                    return *(int*)(cmsg + 1);
                }
                offset += (cmsg->Length + 7) & ~(nuint)7;
            }
            return length;
        }

        /// <summary>The forward step: queue the datagram on its egress's batch; full batches go at once.</summary>
        private void Forward(TunnelDataPath path, FlowStats flow, Span<byte> datagram)
        {
            var lane = LaneOf(path.Egress!);
            if (lane.Count == lane.Batch.Capacity)
            {
                Flush(lane);
            }
            if (!lane.Batch.Add(datagram))
            {
                path.CountSendError(flow);
                return;
            }
            lane.Paths[lane.Count] = path;
            lane.Flows[lane.Count] = flow;
            lane.Lengths[lane.Count] = datagram.Length;
            lane.Count++;
        }

        private Lane LaneOf(INativeEgress egress)
        {
            foreach (var lane in _lanes)
            {
                if (ReferenceEquals(lane.Egress, egress))
                {
                    return lane;
                }
            }
            var added = new Lane(egress, egress.OpenBatch(_txCapacity));
            _lanes.Add(added);
            return added;
        }

        private void FlushAll()
        {
            foreach (var lane in _lanes)
            {
                Flush(lane);
            }
            _used = 0;
        }

        /// <summary>Sends a lane's batch and counts it per tunnel and flow, one add for a run of the same flow.</summary>
        private static void Flush(Lane lane)
        {
            if (lane.Count == 0)
            {
                return;
            }
            lane.Batch.Flush();
            TunnelDataPath? runPath = null;
            FlowStats? runFlow = null;
            int runPackets = 0;
            long runBytes = 0;
            for (int j = 0; j < lane.Count; j++)
            {
                var path = lane.Paths[j]!;
                var flow = lane.Flows[j]!;
                if (lane.Batch.WasSent(j))
                {
                    if (!ReferenceEquals(flow, runFlow) || !ReferenceEquals(path, runPath))
                    {
                        if (runPackets > 0)
                        {
                            runPath!.CountForwarded(runFlow!, runPackets, runBytes);
                        }
                        runPath = path;
                        runFlow = flow;
                        runPackets = 0;
                        runBytes = 0;
                    }
                    runPackets++;
                    runBytes += lane.Lengths[j];
                }
                else
                {
                    path.CountSendError(flow);
                }
                lane.Paths[j] = null;
                lane.Flows[j] = null;
            }
            if (runPackets > 0)
            {
                runPath!.CountForwarded(runFlow!, runPackets, runBytes);
            }
            lane.Count = 0;
        }

        private sealed class Lane(INativeEgress egress, IEgressBatch batch)
        {
            public INativeEgress Egress { get; } = egress;
            public IEgressBatch Batch { get; } = batch;
            public TunnelDataPath?[] Paths { get; } = new TunnelDataPath?[batch.Capacity];
            public FlowStats?[] Flows { get; } = new FlowStats?[batch.Capacity];
            public int[] Lengths { get; } = new int[batch.Capacity];
            public int Count;
        }
    }
}
