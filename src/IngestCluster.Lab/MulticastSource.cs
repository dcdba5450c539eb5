using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace IngestCluster.Lab;

/// <summary>
/// <c>source</c>: sends native multicast UDP at a fixed packet rate. Packet n is due at start + n / rate
/// (a deadline schedule), and a periodic timer sends every packet that has fallen due, so late wake-ups do not
/// accumulate into drift. If it falls more than a second behind, it skips the missed slots and counts them.
/// </summary>
internal sealed class MulticastSource
{
    public const string Usage =
        "usage: IngestCluster.Lab source --group G --port P (--interface IF | --bind ADDR) [--rate 100] [--size 1316] " +
        "[--ttl 16] [--duration 30s] [--count N] [--status-interval 1s]";

    private static readonly HashSet<string> ValueOptions =
        ["group", "port", "interface", "bind", "rate", "size", "ttl", "duration", "count", "status-interval"];

    private readonly IPAddress _group;
    private readonly int _port;
    private readonly string? _interface;
    private readonly IPAddress? _bind;
    private readonly double _rate;
    private readonly int _size;
    private readonly int _ttl;
    private readonly TimeSpan? _duration;
    private readonly long _count;
    private readonly TimeSpan _statusInterval;

    public long Sent { get; private set; }
    public long SendErrors { get; private set; }
    public long SkippedSlots { get; private set; }

    public MulticastSource(IReadOnlyList<string> args)
    {
        var options = LabArguments.Parse(args, ValueOptions, new HashSet<string>());
        _group = options.RequiredMulticast("group");
        _port = (int)options.Integer("port", -1, 1, 65535);
        if (_port < 0)
        {
            throw new UsageException("option --port is required");
        }
        _interface = options.Text("interface");
        _bind = options.Address("bind");
        if (_interface is null && _bind is null)
        {
            throw new UsageException("one of --interface or --bind is required");
        }
        _rate = options.Number("rate", 100, 0.001, 1_000_000);
        _size = (int)options.Integer("size", 1316, LabPayload.MinLength, 65507);
        _ttl = (int)options.Integer("ttl", 16, 1, 255);
        _duration = options.Duration("duration");
        _count = options.Integer("count", long.MaxValue, 1, long.MaxValue);
        _statusInterval = options.Duration("status-interval") ?? TimeSpan.FromSeconds(1);
    }

    public async Task<int> RunAsync(StatusWriter status)
    {
        using var lifetime = new LabLifetime(_duration);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var local = _bind ?? IPAddress.Any;
        if (_interface is not null)
        {
            NetworkInterfaces.BindToDevice(socket, _interface);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface,
                IPAddress.HostToNetworkOrder(NetworkInterfaces.IndexOf(_interface)));
            if (_bind is null)
            {
                local = NetworkInterfaces.Ipv4AddressOf(_interface);
            }
        }
        else
        {
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, _bind!.GetAddressBytes());
        }
        socket.Bind(new IPEndPoint(local, 0));
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, _ttl);

        var destination = new IPEndPoint(_group, _port).Serialize();
        var payload = new byte[_size];
        payload.AsSpan().Fill(LabPayload.Filler);

        status.Write("started", json =>
        {
            json.WriteString("role", "source");
            json.WriteString("source", ((IPEndPoint)socket.LocalEndPoint!).Address.ToString());
            json.WriteNumber("localPort", ((IPEndPoint)socket.LocalEndPoint!).Port);
            json.WriteString("group", _group.ToString());
            json.WriteNumber("port", _port);
            json.WriteNumber("rate", _rate);
            json.WriteNumber("size", _size);
            json.WriteNumber("ttl", _ttl);
        });

        var interval = TimeSpan.FromSeconds(1 / _rate);
        var tick = interval <= TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1)
            : TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, interval.Ticks / 4));
        using var timer = new PeriodicTimer(tick);
        var start = Stopwatch.GetTimestamp();
        var nextStatus = _statusInterval;
        ulong sequence = 0;
        try
        {
            while (!lifetime.Stopping.IsCancellationRequested && (long)sequence < _count)
            {
                var elapsed = Stopwatch.GetElapsedTime(start);
                // Packets 0..due-1 are due by now.
                var due = (ulong)Math.Min((double)_count, Math.Floor(elapsed.TotalSeconds * _rate) + 1);
                if (due > sequence + (ulong)Math.Max(1, _rate))
                {
                    var skip = due - sequence - 1;
                    SkippedSlots += (long)skip;
                    sequence += skip;
                }
                while (sequence < due)
                {
                    LabPayload.Write(payload, sequence, LabPayload.UnixMicroseconds(DateTimeOffset.UtcNow));
                    try
                    {
                        socket.SendTo(payload, SocketFlags.None, destination);
                        Sent++;
                    }
                    catch (SocketException)
                    {
                        SendErrors++;
                    }
                    sequence++;
                }
                if (_statusInterval > TimeSpan.Zero && elapsed >= nextStatus)
                {
                    nextStatus += _statusInterval;
                    WriteCounters(status, "status", sequence);
                }
                if ((long)sequence >= _count)
                {
                    break;
                }
                await timer.WaitForNextTickAsync(lifetime.Stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (lifetime.Stopping.IsCancellationRequested)
        {
        }
        WriteCounters(status, "summary", sequence);
        return 0;
    }

    private void WriteCounters(StatusWriter status, string eventName, ulong nextSequence) =>
        status.Write(eventName, json =>
        {
            json.WriteString("role", "source");
            json.WriteNumber("sent", Sent);
            json.WriteNumber("sendErrors", SendErrors);
            json.WriteNumber("skippedSlots", SkippedSlots);
            json.WriteNumber("nextSequence", nextSequence);
        });
}
