using System.Net;
using System.Net.Sockets;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Native;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Ip;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.Node.Demand;

/// <summary>
/// The receive thread of one PIM interface, as the tunnels' receive loop is for a tunnel: it reads the raw socket,
/// parses, counts what is wrong (<c>ingest_pim_packets_dropped_total</c>, <c>ingest_pim_packets_ignored_total</c>)
/// and hands on what is right: Hellos and Join/Prunes, to callbacks that post them to the listener actor. Bad
/// packets never reach the mailbox and never end the loop. Disposing the socket ends it.
/// </summary>
public sealed class PimReceiveLoop
{
    private readonly PimSocket _socket;
    private readonly string _interface;
    private readonly NodeMetrics _metrics;
    private readonly Action<IPAddress, PimHello> _onHello;
    private readonly Action<IPAddress, PimJoinPrune> _onJoinPrune;
    private readonly string _name;
    private readonly Microsoft.Extensions.Logging.ILogger? _logger;
    private readonly MetricCounter _received;
    private readonly Thread _thread;

    public PimReceiveLoop(PimSocket socket, string interfaceName, NodeMetrics metrics, Action<IPAddress, PimHello> onHello,
        Action<IPAddress, PimJoinPrune> onJoinPrune, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        _socket = socket;
        _interface = $"interface=\"{interfaceName}\"";
        _metrics = metrics;
        _onHello = onHello;
        _onJoinPrune = onJoinPrune;
        _name = interfaceName;
        _logger = logger;
        _received = metrics.Counter("ingest_pim_packets_received_total", _interface, "PIM packets received.");
        _thread = new Thread(Run) { IsBackground = true, Name = $"pim-rx {interfaceName}" };
    }

    public void Start() => _thread.Start();

    private void Run()
    {
        var buffer = new byte[65_536];
        while (true)
        {
            int length;
            try
            {
                length = _socket.Receive(buffer);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (ReceiveLoopErrors.SocketClosed(e))
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            Handle(buffer.AsSpan(0, length));
        }
    }

    /// <summary>One packet as the raw socket gives it (IPv4 header included).</summary>
    public void Handle(ReadOnlySpan<byte> packet)
    {
        _received.Increment();
        if (!Ipv4Header.TryRead(packet, out var ip, out var error))
        {
            Dropped(error.Kind);
            return;
        }
        var from = Ipv4Header.ToAddress(ip.Source);
        var pim = packet[ip.HeaderLength..ip.TotalLength];
        if (!PimHeader.TryRead(pim, out var header, out error))
        {
            Dropped(error.Kind);
            return;
        }
        switch (header.Type)
        {
            case PimMessageType.Hello when PimHello.TryRead(pim, out var hello, out error):
                _onHello(from, hello);
                break;
            case PimMessageType.JoinPrune when PimJoinPrune.TryRead(pim, out var joinPrune, out error):
                _onJoinPrune(from, joinPrune);
                break;
            case PimMessageType.Hello or PimMessageType.JoinPrune:
                Dropped(error.Kind);
                if (_logger is not null)
                {
                    NodeLog.PimMalformed(_logger, from, _name, error.ToString());
                }
                break;
            default:
                _metrics.Counter("ingest_pim_packets_ignored_total", $"{_interface},type=\"{header.Type}\"", "PIM messages of types we do not act on.").Increment();
                break;
        }
    }

    private void Dropped(ParseFailure reason) =>
        _metrics.Counter("ingest_pim_packets_dropped_total", $"{_interface},reason=\"{reason}\"", "PIM packets dropped as malformed, by reason.").Increment();
}
