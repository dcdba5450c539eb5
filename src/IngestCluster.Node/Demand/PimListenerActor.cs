using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Ip;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.Node.Demand;

/// <summary>
/// PIM on one downstream interface: we are the upstream router the LAN's routers send their Joins to. It sends
/// Hellos (one at start, then every period, and a goodbye when it stops) with a random Generation ID, keeps the
/// neighbour table, turns Join/Prunes addressed to us into (S,G) demand (<see cref="DemandTable"/>) and tells the
/// budget every change, plus the whole demand every snapshot interval. Its <see cref="PimReceiveLoop"/> reads the raw
/// socket and posts each valid message; bad packets are counted there and never reach the mailbox.
/// </summary>
public sealed class PimListenerActor : ReceiveActor, IWithTimers
{
    private readonly PimInterfaceSettings _settings;
    private readonly IActorRef _budget;
    private readonly string _origin;
    private readonly NodeMetrics _metrics;
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(PimListenerActor));
    private readonly PimNeighborTable _neighbors;
    private readonly DemandTable _demand;
    private readonly uint _generationId = BitConverterFree(RandomNumberGenerator.GetBytes(4));
    private readonly MetricCounter _joins;
    private readonly MetricCounter _prunes;
    private readonly MetricCounter _notForUs;
    private PimSocket? _socket;
    private IReadOnlyList<IPAddress> _own = [];
    private IReadOnlySet<IPAddress> _accepted = new HashSet<IPAddress>();
    private IReadOnlySet<IPAddress> _members = new HashSet<IPAddress>();

    public PimListenerActor(PimInterfaceSettings settings, IActorRef budget, string nodeName, NodeMetrics metrics, TimeProvider clock)
    {
        _settings = settings;
        _budget = budget;
        _origin = $"{nodeName}/pim/{settings.Name}";
        _metrics = metrics;
        _neighbors = new PimNeighborTable(clock);
        _demand = new DemandTable(clock, settings.SsmRanges, settings.OverrideInterval);
        string iface = $"interface=\"{settings.Name}\"";
        _joins = metrics.Counter("ingest_pim_joins_total", iface, "(S,G) joins taken from PIM Join/Prunes.");
        _prunes = metrics.Counter("ingest_pim_prunes_total", iface, "(S,G) leaves from PIM Prunes and expiry.");
        _notForUs = metrics.Counter("ingest_pim_join_prunes_not_for_us_total", iface, "Join/Prunes whose Upstream Neighbor is not one of ours.");

        Receive<HelloReceived>(OnHello);
        Receive<JoinPruneReceived>(OnJoinPrune);
        Receive<SendHello>(_ => Hello(_settings.HelloHoldtime));
        Receive<ExpireTick>(_ =>
        {
            foreach (var gone in _neighbors.Expire())
            {
                NodeLog.PimNeighborExpired(_logger, gone.Address, _settings.Name);
            }
            Publish(_demand.Expire());
        });
        Receive<SendSnapshot>(_ => _budget.Tell(new DemandProtocol.DemandSnapshot(_origin, [.. _demand.Joined])));
        Receive<OpenSocket>(_ => Open());
        Receive<ClusterFacts.UpstreamsChanged>(m =>
        {
            _members = m.Addresses;
            Accept();
        });
        Receive<GetPimState>(_ => Sender.Tell(new PimState(
            _settings.Name, _generationId,
            [.. _neighbors.Neighbors],
            [.. _demand.Joined.Select(f => (f, _demand.StateOf(f)))])
        {
            ExpiresAt = _demand.Joined.ToDictionary(f => f, _demand.ExpiryOf),
        }));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(PimInterfaceSettings settings, IActorRef budget, string nodeName, NodeMetrics metrics, TimeProvider clock) =>
        Akka.Actor.Props.Create(() => new PimListenerActor(settings, budget, nodeName, metrics, clock));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe<ClusterFacts.UpstreamsChanged>(Self);
        Timers.StartPeriodicTimer("expire", ExpireTick.Instance, TimeSpan.FromSeconds(1));
        Timers.StartPeriodicTimer("snapshot", SendSnapshot.Instance, _settings.SnapshotInterval);
        Open();
    }

    protected override void PostStop()
    {
        if (_socket is not null)
        {
            Hello(TimeSpan.Zero);
            _socket.Dispose();
            NodeLog.PimStopped(_logger, _settings.Name);
        }
    }

    private void Open()
    {
        try
        {
            _socket = new PimSocket(_settings.Name);
        }
        catch (Exception e) when (e is ArgumentException or SocketException or UnauthorizedAccessException)
        {
            _metrics.Counter("ingest_pim_socket_errors_total", $"interface=\"{_settings.Name}\"", "Failures to open the PIM socket.").Increment();
            NodeLog.PimSocketFailed(_logger, _settings.Name, e.Message);
            Timers.StartSingleTimer("open", OpenSocket.Instance, TimeSpan.FromSeconds(10));
            return;
        }
        _own = _socket.LocalAddresses;
        // Every member hears every Join/Prune on the LAN (they go to 224.0.0.13): tell the others which addresses
        // routers may name for us, so each member accepts Joins addressed to any of them.
        Context.System.EventStream.Publish(new ClusterFacts.DownstreamAddresses(_settings.Name, _own));
        Accept();
        var self = Self;
        var socket = _socket;
        new PimReceiveLoop(socket, _settings.Name, _metrics,
            (from, hello) => self.Tell(new HelloReceived(from, hello)),
            (from, joinPrune) => self.Tell(new JoinPruneReceived(from, joinPrune)),
            _logger).Start();
        NodeLog.PimStarted(_logger, _settings.Name, socket.InterfaceIndex, _generationId,
            string.Join(", ", _accepted.Select(a => a.ToString()).Order(StringComparer.Ordinal)));
        Hello(_settings.HelloHoldtime);
        Timers.StartPeriodicTimer("hello", SendHello.Instance, _settings.HelloPeriod);
    }

    /// <summary>The Upstream Neighbor addresses we act on: those configured, our own, every member's (learned from the
    /// cluster), and the cluster's own neighbour address on this LAN.</summary>
    private void Accept()
    {
        var accepted = new HashSet<IPAddress>(_settings.AcceptUpstream);
        accepted.UnionWith(_own);
        accepted.UnionWith(_members);
        if (_settings.ClusterAddress is { } clusterAddress)
        {
            accepted.Add(clusterAddress);
        }
        if (!accepted.SetEquals(_accepted))
        {
            _accepted = accepted;
            NodeLog.PimAccepting(_logger, _settings.Name, string.Join(", ", accepted.Select(a => a.ToString()).Order(StringComparer.Ordinal)));
        }
    }

    private void Hello(TimeSpan holdtime)
    {
        var hello = new PimHello
        {
            HoldtimeSeconds = (ushort)Math.Min(holdtime.TotalSeconds, ushort.MaxValue),
            DrPriority = _settings.DrPriority,
            GenerationId = _generationId,
        };
        var bytes = new byte[hello.Length];
        hello.Write(bytes);
        try
        {
            _socket?.Send(bytes);
        }
        catch (SocketException e)
        {
            _metrics.Counter("ingest_pim_send_errors_total", $"interface=\"{_settings.Name}\"", "PIM Hellos we could not send.").Increment();
            NodeLog.PimSendFailed(_logger, _settings.Name, e.SocketErrorCode);
        }
    }

    private void OnHello(HelloReceived m)
    {
        switch (_neighbors.OnHello(m.From, m.Hello))
        {
            case NeighborEvent.New:
                NodeLog.PimNeighborUp(_logger, m.From, _settings.Name, GenId(m.Hello.GenerationId));
                Hello(_settings.HelloHoldtime); // a new neighbour learns us now, not in up to 30 s
                break;
            case NeighborEvent.Restarted:
                NodeLog.PimNeighborRestarted(_logger, m.From, _settings.Name, GenId(m.Hello.GenerationId));
                Hello(_settings.HelloHoldtime);
                break;
            case NeighborEvent.Goodbye:
                NodeLog.PimNeighborGoodbye(_logger, m.From, _settings.Name);
                break;
        }
    }

    /// <summary>A Hello's Generation ID for the log: the option is optional (RFC 7761 4.9.2), "none" without it.</summary>
    private static string GenId(uint? generationId) =>
        generationId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none";

    private void OnJoinPrune(JoinPruneReceived m)
    {
        if (!_accepted.Contains(m.Message.UpstreamNeighbor))
        {
            _notForUs.Increment();
            return;
        }
        bool otherNeighbors = _neighbors.Neighbors.Any(n => !n.Address.Equals(m.From));
        var changes = _demand.Apply(m.Message, otherNeighbors, reason =>
            _metrics.Counter("ingest_pim_entries_ignored_total", $"interface=\"{_settings.Name}\",reason=\"{reason}\"",
                "Join/Prune entries that are not SSM (S,G) state.").Increment());
        Publish(changes);
    }

    private void Publish(IReadOnlyList<DemandChange> changes)
    {
        foreach (var change in changes)
        {
            (change.Joined ? _joins : _prunes).Increment();
            if (change.Joined)
            {
                NodeLog.PimJoined(_logger, change.Flow, _settings.Name);
            }
            else
            {
                NodeLog.PimLeft(_logger, change.Flow, _settings.Name);
            }
            _budget.Tell(new DemandProtocol.DemandChanged(_origin, change.Flow, change.Joined));
        }
    }

    private static uint BitConverterFree(byte[] bytes) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes);

    private sealed record HelloReceived(IPAddress From, PimHello Hello) : Akka.Actor.INoSerializationVerificationNeeded;

    private sealed record JoinPruneReceived(IPAddress From, PimJoinPrune Message) : Akka.Actor.INoSerializationVerificationNeeded;

    private sealed class SendHello : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly SendHello Instance = new();
    }

    private sealed class ExpireTick : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly ExpireTick Instance = new();
    }

    private sealed class SendSnapshot : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly SendSnapshot Instance = new();
    }

    private sealed class OpenSocket : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly OpenSocket Instance = new();
    }
}

/// <summary>Asks a PimListenerActor for its state; answered with <see cref="PimState"/>.</summary>
public sealed class GetPimState : Akka.Actor.INoSerializationVerificationNeeded
{
    public static readonly GetPimState Instance = new();
}

public sealed record PimState(string Interface, uint GenerationId, IReadOnlyList<PimNeighbor> Neighbors,
    IReadOnlyList<(SourceGroup Flow, DownstreamState State)> Demand) : Akka.Actor.INoSerializationVerificationNeeded
{
    /// <summary>When each joined flow expires unless a Join refreshes it; null for an infinite holdtime.</summary>
    public IReadOnlyDictionary<SourceGroup, DateTimeOffset?> ExpiresAt { get; init; } = new Dictionary<SourceGroup, DateTimeOffset?>();
}
