using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.Node.Demand;

/// <summary>
/// The holder of the cluster's neighbour address on one downstream LAN: a cluster singleton, so exactly one live
/// member runs it. Routers point their RPF route at this address and send their Joins to it (to 224.0.0.13, which
/// every member hears), so it must outlive any node. The holder sends PIM Hellos from it: at start, once more a
/// second later, then every Hello period, each with a Generation ID chosen when this holder started; a new holder
/// (after a crash or a graceful hand-over) has a new one, and RFC 7761 routers treat that as a restarted neighbour and
/// re-send their Joins. It never sends a goodbye (holdtime 0): a router would drop the neighbour, and with it every
/// route through the address, the moment it arrived. When the holder stops, it just stops; the next one takes over
/// well within the 105 s the last Hello promised.
/// </summary>
public sealed class ClusterAddressActor : ReceiveActor, IWithTimers
{
    private readonly PimInterfaceSettings _settings;
    private readonly IPAddress _address;
    private readonly NodeMetrics _metrics;
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(ClusterAddressActor));
    private readonly uint _generationId = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(RandomNumberGenerator.GetBytes(4));
    private readonly MetricCounter _hellos;
    private PimSocket? _socket;

    public ClusterAddressActor(PimInterfaceSettings settings, NodeMetrics metrics)
    {
        _settings = settings;
        _address = settings.ClusterAddress ?? throw new ArgumentException("no cluster address", nameof(settings));
        _metrics = metrics;
        _hellos = metrics.Counter("ingest_cluster_address_hellos_total", $"interface=\"{settings.Name}\"",
            "PIM Hellos sent from the cluster's neighbour address by this node while it held it.");
        Receive<SendHello>(_ => Hello());
        Receive<Open>(_ => OpenSocket());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(PimInterfaceSettings settings, NodeMetrics metrics) =>
        Akka.Actor.Props.Create(() => new ClusterAddressActor(settings, metrics));

    /// <summary>The singleton's name for a LAN's cluster address.</summary>
    public static string SingletonName(IPAddress address) => $"cluster-address-{address}";

    protected override void PreStart() => OpenSocket();

    protected override void PostStop()
    {
        // No goodbye, on purpose: see the class summary.
        _socket?.Dispose();
        NodeLog.ClusterAddressReleased(_logger, _address, _settings.Name, _generationId);
    }

    private void OpenSocket()
    {
        try
        {
            _socket = new PimSocket(_settings.Name, clusterAddressSender: true);
        }
        catch (Exception e) when (e is ArgumentException or SocketException or UnauthorizedAccessException)
        {
            _metrics.Counter("ingest_pim_socket_errors_total", $"interface=\"{_settings.Name}\"", "Failures to open the PIM socket.").Increment();
            NodeLog.ClusterAddressSocketFailed(_logger, _address, _settings.Name, e.Message);
            Timers.StartSingleTimer("open", Open.Instance, TimeSpan.FromSeconds(5));
            return;
        }
        NodeLog.ClusterAddressHeld(_logger, _address, _settings.Name, _generationId);
        Hello();
        // A second Hello soon after the first, in case the first was lost: the routers are waiting for this neighbour.
        Timers.StartSingleTimer("again", SendHello.Instance, TimeSpan.FromSeconds(1));
        Timers.StartPeriodicTimer("hello", SendHello.Instance, _settings.HelloPeriod);
    }

    private void Hello()
    {
        var hello = new PimHello
        {
            HoldtimeSeconds = (ushort)Math.Min(_settings.HelloHoldtime.TotalSeconds, ushort.MaxValue - 1),
            DrPriority = _settings.DrPriority,
            GenerationId = _generationId,
        };
        var bytes = new byte[hello.Length];
        hello.Write(bytes);
        try
        {
            _socket?.SendFrom(_address, bytes);
            _hellos.Increment();
        }
        catch (SocketException e)
        {
            _metrics.Counter("ingest_pim_send_errors_total", $"interface=\"{_settings.Name}\"", "PIM Hellos we could not send.").Increment();
            NodeLog.ClusterAddressSendFailed(_logger, _address, _settings.Name, e.SocketErrorCode);
        }
    }

    private sealed class SendHello : INoSerializationVerificationNeeded
    {
        public static readonly SendHello Instance = new();
    }

    private sealed class Open : INoSerializationVerificationNeeded
    {
        public static readonly Open Instance = new();
    }
}
