using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace IngestCluster.Lab;

/// <summary>
/// <c>receiver</c>: joins (S,G) on an interface with IP_ADD_SOURCE_MEMBERSHIP, counts the lab source's packets
/// (loss, duplicates, reordering, time from join to first packet, one-way latency from the send timestamp),
/// prints a status line every interval, and on SIGTERM or <c>--leave-after</c> drops the membership and keeps
/// counting for <c>--linger</c> so a test can see the data stop.
/// </summary>
internal sealed class MulticastReceiver
{
    public const string Usage =
        "usage: IngestCluster.Lab receiver --source S --group G --port P --interface IF [--duration 10s] " +
        "[--expect-rate 100] [--leave-after 10s] [--linger 5s] [--status-interval 1s] [--report-gaps 200ms]";

    private static readonly HashSet<string> ValueOptions =
        ["source", "group", "port", "interface", "duration", "expect-rate", "leave-after", "linger", "status-interval", "report-gaps"];

    private readonly IPAddress _source;
    private readonly IPAddress _group;
    private readonly int _port;
    private readonly string _interface;
    private readonly TimeSpan? _duration;
    private readonly double? _expectRate;
    private readonly TimeSpan? _leaveAfter;
    private readonly TimeSpan _linger;
    private readonly TimeSpan _statusInterval;
    private readonly TimeSpan? _reportGaps;
    private StatusWriter? _status;

    private readonly Lock _gate = new();
    private readonly SequenceTracker _tracker = new();
    private long _bytes, _otherSource, _malformed;
    private long _joinedAt, _firstPacketAt, _lastPacketAt, _leftAt;
    private long _receivedAfterLeave, _lastPacketAfterLeaveAt;
    private double _latencySumMs, _latencyMaxMs;

    public MulticastReceiver(IReadOnlyList<string> args)
    {
        var options = LabArguments.Parse(args, ValueOptions, new HashSet<string>());
        _source = options.RequiredAddress("source");
        _group = options.RequiredMulticast("group");
        _port = (int)options.Integer("port", -1, 1, 65535);
        if (_port < 0)
        {
            throw new UsageException("option --port is required");
        }
        _interface = options.RequiredText("interface");
        _duration = options.Duration("duration");
        _expectRate = options.Has("expect-rate") ? options.Number("expect-rate", 0, 0.001, 1_000_000) : null;
        _leaveAfter = options.Duration("leave-after");
        _linger = options.Duration("linger") ?? TimeSpan.Zero;
        _statusInterval = options.Duration("status-interval") ?? TimeSpan.FromSeconds(1);
        _reportGaps = options.Duration("report-gaps");
    }

    public async Task<int> RunAsync(StatusWriter status)
    {
        _status = status;
        using var lifetime = new LabLifetime(_duration);
        var interfaceAddress = NetworkInterfaces.Ipv4AddressOf(_interface);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        NetworkInterfaces.BindToDevice(socket, _interface);
        // Bound to the group address: the kernel hands this socket only datagrams sent to G.
        socket.Bind(new IPEndPoint(_group, _port));

        status.Write("started", json =>
        {
            json.WriteString("role", "receiver");
            json.WriteString("source", _source.ToString());
            json.WriteString("group", _group.ToString());
            json.WriteNumber("port", _port);
            json.WriteString("interface", _interface);
            json.WriteString("interfaceAddress", interfaceAddress.ToString());
        });

        using var receiveStop = new CancellationTokenSource();
        var receiveThread = new Thread(() => ReceiveLoop(socket, receiveStop.Token))
        {
            IsBackground = true,
            Name = "lab-receiver",
        };
        receiveThread.Start();

        NetworkInterfaces.AddSourceMembership(socket, _source, _group, interfaceAddress);
        Interlocked.Exchange(ref _joinedAt, Stopwatch.GetTimestamp());
        status.Write("joined", json =>
        {
            json.WriteString("source", _source.ToString());
            json.WriteString("group", _group.ToString());
        });

        using var statusTimer = new PeriodicTimer(_statusInterval > TimeSpan.Zero ? _statusInterval : Timeout.InfiniteTimeSpan);
        var statusTask = _statusInterval > TimeSpan.Zero ? StatusLoopAsync(statusTimer, status, lifetime.Stopping) : Task.CompletedTask;

        // Phase 1: joined, until a signal, --leave-after or the end of --duration.
        using (var leaveTrigger = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Stopping))
        {
            if (_leaveAfter is { } leaveAfter)
            {
                leaveTrigger.CancelAfter(leaveAfter);
            }
            await WaitAsync(leaveTrigger.Token).ConfigureAwait(false);
        }

        var durationOver = lifetime.Stopping.IsCancellationRequested && !lifetime.Signalled.IsCancellationRequested;
        NetworkInterfaces.DropSourceMembership(socket, _source, _group, interfaceAddress);
        Interlocked.Exchange(ref _leftAt, Stopwatch.GetTimestamp());
        status.Write("left", json =>
        {
            json.WriteString("source", _source.ToString());
            json.WriteString("group", _group.ToString());
            json.WriteNumber("received", Snapshot().Received);
        });

        // Phase 2: keep counting after the leave, so the caller sees the data stop (or not).
        if (!durationOver && _linger > TimeSpan.Zero)
        {
            using var lingerEnd = CancellationTokenSource.CreateLinkedTokenSource(lifetime.SignalledTwice);
            lingerEnd.CancelAfter(_linger);
            await WaitAsync(lingerEnd.Token).ConfigureAwait(false);
        }

        receiveStop.Cancel();
        receiveThread.Join();
        statusTimer.Dispose();
        try
        {
            await statusTask.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        WriteSummary(status);
        return 0;
    }

    private static async Task WaitAsync(CancellationToken token)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void ReceiveLoop(Socket socket, CancellationToken stop)
    {
        var buffer = new byte[65536];
        var from = new SocketAddress(AddressFamily.InterNetwork);
        var expectedSource = NetworkInterfaces.ToUInt32(_source);
        while (!stop.IsCancellationRequested)
        {
            if (!socket.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead))
            {
                continue;
            }
            int length;
            try
            {
                length = socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (SocketException)
            {
                continue;
            }
            var now = Stopwatch.GetTimestamp();
            var nowMicroseconds = LabPayload.UnixMicroseconds(DateTimeOffset.UtcNow);
            // SocketAddress for IPv4: family (2), port (2), address (4).
            var sourceAddress = (uint)(from[4] << 24 | from[5] << 16 | from[6] << 8 | from[7]);
            lock (_gate)
            {
                if (sourceAddress != expectedSource)
                {
                    _otherSource++;
                    continue;
                }
                if (!LabPayload.TryRead(buffer.AsSpan(0, length), out var sequence, out var sentAt))
                {
                    _malformed++;
                    continue;
                }
                ulong highestBefore = _tracker.HighestSequence;
                bool hadPacket = _firstPacketAt != 0;
                _tracker.Observe(sequence);
                _bytes += length;
                if (hadPacket && _reportGaps is { } threshold && Stopwatch.GetElapsedTime(_lastPacketAt, now) >= threshold)
                {
                    // An outage, measured at this receiver: from the last packet before it to this one, with the
                    // sequence numbers the source sent meanwhile and we never got.
                    double gapMs = Stopwatch.GetElapsedTime(_lastPacketAt, now).TotalMilliseconds;
                    long missing = sequence > highestBefore ? (long)(sequence - highestBefore - 1) : 0;
                    _status?.Write("gap", json =>
                    {
                        json.WriteNumber("gapMs", Math.Round(gapMs, 1));
                        json.WriteNumber("afterSequence", highestBefore);
                        json.WriteNumber("resumedAtSequence", sequence);
                        json.WriteNumber("missing", missing);
                        json.WriteNumber("resumedAtUnixMs", nowMicroseconds / 1000);
                    });
                }
                if (_firstPacketAt == 0)
                {
                    _firstPacketAt = now;
                }
                _lastPacketAt = now;
                if (_leftAt != 0)
                {
                    _receivedAfterLeave++;
                    _lastPacketAfterLeaveAt = now;
                }
                var latencyMs = (nowMicroseconds - sentAt) / 1000.0;
                _latencySumMs += latencyMs;
                _latencyMaxMs = Math.Max(_latencyMaxMs, latencyMs);
            }
        }
    }

    private async Task StatusLoopAsync(PeriodicTimer timer, StatusWriter status, CancellationToken stop)
    {
        long previous = 0;
        while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
        {
            var s = Snapshot();
            status.Write("status", json =>
            {
                json.WriteString("role", "receiver");
                json.WriteBoolean("joined", s.LeftAt == 0);
                json.WriteNumber("received", s.Received);
                json.WriteNumber("receivedSinceLastStatus", s.Received - previous);
                json.WriteNumber("lost", s.Lost);
                json.WriteNumber("duplicates", s.Duplicates);
                json.WriteNumber("receivedAfterLeave", s.ReceivedAfterLeave);
                WriteMilliseconds(json, "msSinceLastPacket", s.LastPacketAt, Stopwatch.GetTimestamp());
            });
            previous = s.Received;
        }
    }

    private readonly record struct Counters(long Received, long Distinct, long Lost, double LossRatio, long Duplicates,
        long Reordered, long Stale, ulong FirstSequence, ulong HighestSequence, long Bytes, long OtherSource, long Malformed,
        long JoinedAt, long FirstPacketAt, long LastPacketAt, long LeftAt, long ReceivedAfterLeave, long LastPacketAfterLeaveAt,
        double LatencySumMs, double LatencyMaxMs);

    private Counters Snapshot()
    {
        lock (_gate)
        {
            return new Counters(_tracker.Received, _tracker.Distinct, _tracker.Lost, _tracker.LossRatio, _tracker.Duplicates,
                _tracker.Reordered, _tracker.Stale, _tracker.FirstSequence, _tracker.HighestSequence, _bytes, _otherSource,
                _malformed, Interlocked.Read(ref _joinedAt), _firstPacketAt, _lastPacketAt, Interlocked.Read(ref _leftAt),
                _receivedAfterLeave, _lastPacketAfterLeaveAt, _latencySumMs, _latencyMaxMs);
        }
    }

    private static void WriteMilliseconds(Utf8JsonWriter json, string name, long from, long to)
    {
        if (from == 0 || to == 0)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteNumber(name, Math.Round(Stopwatch.GetElapsedTime(from, to).TotalMilliseconds, 3));
        }
    }

    private void WriteSummary(StatusWriter status)
    {
        var s = Snapshot();
        status.Write("summary", json =>
        {
            json.WriteString("role", "receiver");
            json.WriteString("source", _source.ToString());
            json.WriteString("group", _group.ToString());
            json.WriteNumber("port", _port);
            json.WriteNumber("received", s.Received);
            json.WriteNumber("distinct", s.Distinct);
            json.WriteNumber("lost", s.Lost);
            json.WriteNumber("lossRatio", Math.Round(s.LossRatio, 6));
            json.WriteNumber("duplicates", s.Duplicates);
            json.WriteNumber("reordered", s.Reordered);
            json.WriteNumber("stale", s.Stale);
            json.WriteNumber("otherSource", s.OtherSource);
            json.WriteNumber("malformed", s.Malformed);
            json.WriteNumber("bytes", s.Bytes);
            if (s.Received > 0)
            {
                json.WriteNumber("firstSequence", s.FirstSequence);
                json.WriteNumber("highestSequence", s.HighestSequence);
            }
            else
            {
                json.WriteNull("firstSequence");
                json.WriteNull("highestSequence");
            }
            WriteMilliseconds(json, "firstPacketMs", s.JoinedAt, s.FirstPacketAt);
            var span = s.FirstPacketAt != 0 ? Stopwatch.GetElapsedTime(s.FirstPacketAt, s.LastPacketAt).TotalSeconds : 0;
            double? measuredRate = s.Distinct > 1 && span > 0 ? (s.Distinct - 1) / span : null;
            if (measuredRate is { } rate)
            {
                json.WriteNumber("measuredRate", Math.Round(rate, 3));
            }
            else
            {
                json.WriteNull("measuredRate");
            }
            if (_expectRate is { } expected)
            {
                json.WriteNumber("expectedRate", expected);
                if (measuredRate is { } r)
                {
                    json.WriteNumber("rateRatio", Math.Round(r / expected, 4));
                }
                else
                {
                    json.WriteNull("rateRatio");
                }
            }
            if (s.Received > 0)
            {
                json.WriteNumber("latencyAvgMs", Math.Round(s.LatencySumMs / s.Received, 3));
                json.WriteNumber("latencyMaxMs", Math.Round(s.LatencyMaxMs, 3));
            }
            json.WriteBoolean("left", s.LeftAt != 0);
            json.WriteNumber("receivedAfterLeave", s.ReceivedAfterLeave);
            WriteMilliseconds(json, "lastPacketAfterLeaveMs", s.LeftAt, s.LastPacketAfterLeaveAt);
        });
    }
}
