using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Igmp;

namespace IngestCluster.Node.Tunnels;

/// <summary>The gateway side of one AMT tunnel (RFC 7450 §5.2), as docs/protocols.md describes it.</summary>
public enum GatewayState
{
    /// <summary>Created, nothing sent.</summary>
    Idle,
    /// <summary>Relay Discovery sent; waiting for an Advertisement with our nonce.</summary>
    Discovering,
    /// <summary>Request sent; waiting for a Membership Query with our nonce.</summary>
    Requesting,
    /// <summary>A Query gave us a MAC and nonce: updates can be sent, data flows.</summary>
    Established,
    /// <summary>Given up on this relay (no answer, no data, L flag); the parent moves on.</summary>
    Failed,
    /// <summary>Left: BLOCK sent for every joined group, socket about to close.</summary>
    Stopped,
}

/// <summary>The session's timers; the actor arms them with Akka's scheduler.</summary>
public enum GatewayTimer
{
    /// <summary>Retransmit a Discovery or Request that got no answer.</summary>
    Retransmit,
    /// <summary>The query interval passed: send the next Request.</summary>
    Refresh,
    /// <summary>Repeat the pending ALLOW/BLOCK changes (each goes QRV times, about 1 s apart).</summary>
    UpdateRepeat,
    /// <summary>Check that data arrives after a join (RFC 8777 §4.2.2).</summary>
    NoDataCheck,
}

/// <summary>Something the actor must do for the session.</summary>
public abstract record GatewayAction;

public sealed record SendToRelay(byte[] Message, AmtMessageType Type) : GatewayAction;

public sealed record ArmTimer(GatewayTimer Timer, TimeSpan Delay) : GatewayAction;

public sealed record CancelTimer(GatewayTimer Timer) : GatewayAction;

public sealed record GatewayStateChanged(GatewayState From, GatewayState To, string Reason) : GatewayAction;

/// <summary>Give up this relay and hold it down for <paramref name="HoldDown"/>.</summary>
public sealed record GatewayGaveUp(string Reason, TimeSpan HoldDown) : GatewayAction;

/// <summary>Timers and limits of the gateway (section <c>Tunnels</c>).</summary>
public sealed record GatewayOptions
{
    public TimeSpan MaxRetransmitInterval { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Unanswered Requests before going back to Relay Discovery.</summary>
    public int RequestsBeforeRediscovery { get; init; } = 3;

    /// <summary>Unanswered Discoveries plus Requests before giving up on the relay.</summary>
    public int MaxUnansweredAttempts { get; init; } = 5;

    /// <summary>No Multicast Data for this long after a join means the relay is not delivering.</summary>
    public TimeSpan NoDataTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan HoldDownMin { get; init; } = TimeSpan.FromMinutes(3);

    public TimeSpan HoldDownMax { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Hold-down after the relay set the L flag (limited capacity).</summary>
    public TimeSpan LoadedHoldDown { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan UpdateSpacing { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Used until a Query tells the relay's own values.</summary>
    public byte DefaultQrv { get; init; } = 2;

    public TimeSpan DefaultQueryInterval { get; init; } = TimeSpan.FromSeconds(125);
}

/// <summary>
/// The AMT gateway state machine for one tunnel: pure, with the clock and the random sources injected, so every
/// rule is testable without sockets. The actor feeds it received control messages, timer expiries and the
/// desired groups, and carries out the <see cref="GatewayAction"/>s it returns.
/// </summary>
public sealed class AmtGatewaySession
{
    private readonly IPAddress _source;
    private readonly bool _skipDiscovery;
    private readonly GatewayOptions _options;
    private readonly TimeProvider _clock;
    private readonly Func<uint> _nonces;
    private readonly Random _jitter;
    private readonly Dictionary<IPAddress, (IgmpRecordType Type, int Remaining)> _pendingChanges = [];
    private ImmutableHashSet<IPAddress> _desired = [];
    private ImmutableHashSet<IPAddress> _announced = [];
    private uint _discoveryNonce;
    private uint _requestNonce;
    private bool _awaitingQuery;
    private int _unanswered;
    private DateTimeOffset _dataExpectedSince;
    private (ulong Mac, uint Nonce, ushort Port, IPAddress Address)? _gatewaySeenByRelay;

    public AmtGatewaySession(IPAddress source, bool skipDiscovery, GatewayOptions options, TimeProvider clock,
        Func<uint>? nonces = null, Random? jitter = null)
    {
        _source = source;
        _skipDiscovery = skipDiscovery;
        _options = options;
        _clock = clock;
        _nonces = nonces ?? (() => BitConverterFree(RandomNumberGenerator.GetBytes(4)));
        _jitter = jitter ?? Random.Shared;
    }

    public GatewayState State { get; private set; } = GatewayState.Idle;

    /// <summary>The latest Membership Query's MAC and nonce, which every Update must echo; null before a query.</summary>
    public (ulong Mac, uint Nonce)? Credentials { get; private set; }

    public byte Qrv { get; private set; }

    public TimeSpan QueryInterval { get; private set; }

    /// <summary>The groups the relay has been told to forward.</summary>
    public ImmutableHashSet<IPAddress> Announced => _announced;

    public string LastReason { get; private set; } = "";

    private DateTimeOffset Now => _clock.GetUtcNow();

    public IReadOnlyList<GatewayAction> Start(IEnumerable<IPAddress> groups)
    {
        var actions = new List<GatewayAction>();
        _desired = [.. groups];
        Qrv = _options.DefaultQrv;
        QueryInterval = _options.DefaultQueryInterval;
        if (_skipDiscovery)
        {
            SendRequest(actions, "D bit set: discovery skipped");
        }
        else
        {
            SendDiscovery(actions, "start");
        }
        return actions;
    }

    public IReadOnlyList<GatewayAction> SetGroups(IEnumerable<IPAddress> groups)
    {
        var actions = new List<GatewayAction>();
        _desired = [.. groups];
        if (State == GatewayState.Established)
        {
            AnnounceChanges(actions);
        }
        return actions;
    }

    public IReadOnlyList<GatewayAction> OnMessage(ReadOnlySpan<byte> message)
    {
        var actions = new List<GatewayAction>();
        if (!AmtMessage.TryReadType(message, out var type, out _))
        {
            return actions;
        }
        switch (type)
        {
            case AmtMessageType.RelayAdvertisement when State == GatewayState.Discovering:
                if (AmtRelayAdvertisement.TryRead(message, out var advertisement, out _) && advertisement.Nonce == _discoveryNonce)
                {
                    SendRequest(actions, $"advertisement from {advertisement.RelayAddress}");
                }
                break;
            case AmtMessageType.MembershipQuery when State is GatewayState.Requesting or GatewayState.Established:
                if (AmtMembershipQuery.TryRead(message, out var query, out _) && query.Nonce == _requestNonce && _awaitingQuery)
                {
                    OnQuery(query, actions);
                }
                break;
        }
        return actions;
    }

    /// <param name="lastDataAt">When the data path last saw Multicast Data for a joined flow; null for never.</param>
    public IReadOnlyList<GatewayAction> OnTimer(GatewayTimer timer, DateTimeOffset? lastDataAt = null)
    {
        var actions = new List<GatewayAction>();
        if (State is GatewayState.Failed or GatewayState.Stopped)
        {
            return actions;
        }
        switch (timer)
        {
            case GatewayTimer.Retransmit:
                Retransmit(actions);
                break;
            case GatewayTimer.Refresh:
                SendRequest(actions, "query interval passed");
                break;
            case GatewayTimer.UpdateRepeat:
                SendChanges(actions);
                break;
            case GatewayTimer.NoDataCheck:
                CheckData(actions, lastDataAt);
                break;
        }
        return actions;
    }

    /// <summary>Leave: BLOCK every announced group once (we are closing), then stop.</summary>
    public IReadOnlyList<GatewayAction> Stop()
    {
        var actions = new List<GatewayAction>();
        if (State is GatewayState.Stopped or GatewayState.Failed)
        {
            return actions;
        }
        if (Credentials is not null && !_announced.IsEmpty)
        {
            _pendingChanges.Clear();
            foreach (var group in _announced)
            {
                _pendingChanges[group] = (IgmpRecordType.BlockOldSources, 1);
            }
            _announced = [];
            SendChanges(actions, armRepeat: false);
        }
        foreach (var t in Enum.GetValues<GatewayTimer>())
        {
            actions.Add(new CancelTimer(t));
        }
        Transition(GatewayState.Stopped, "stopped", actions);
        return actions;
    }

    private void SendDiscovery(List<GatewayAction> actions, string reason)
    {
        _discoveryNonce = _nonces();
        _awaitingQuery = false;
        Transition(GatewayState.Discovering, reason, actions);
        Send(new AmtRelayDiscovery(_discoveryNonce), actions);
        actions.Add(new ArmTimer(GatewayTimer.Retransmit, Backoff()));
    }

    private void SendRequest(List<GatewayAction> actions, string reason)
    {
        _requestNonce = _nonces();
        _awaitingQuery = true;
        if (State != GatewayState.Established)
        {
            Transition(GatewayState.Requesting, reason, actions);
        }
        Send(new AmtRequest(_requestNonce, MldRequested: false), actions);
        actions.Add(new ArmTimer(GatewayTimer.Retransmit, Backoff()));
    }

    private void Retransmit(List<GatewayAction> actions)
    {
        if (State == GatewayState.Established && !_awaitingQuery)
        {
            return;
        }
        _unanswered++;
        if (_unanswered >= _options.MaxUnansweredAttempts)
        {
            GiveUp(actions, State == GatewayState.Discovering
                ? $"relay did not answer {_unanswered} Relay Discovery/Request messages"
                : $"relay did not answer {_unanswered} Requests with a Membership Query", HoldDown());
            return;
        }
        switch (State)
        {
            case GatewayState.Discovering:
                Send(new AmtRelayDiscovery(_discoveryNonce), actions);
                actions.Add(new ArmTimer(GatewayTimer.Retransmit, Backoff()));
                break;
            case GatewayState.Requesting or GatewayState.Established
                when !_skipDiscovery && _unanswered % _options.RequestsBeforeRediscovery == 0:
                SendDiscovery(actions, $"{_unanswered} Requests unanswered: rediscovering");
                break;
            default:
                Send(new AmtRequest(_requestNonce, MldRequested: false), actions);
                actions.Add(new ArmTimer(GatewayTimer.Retransmit, Backoff()));
                break;
        }
    }

    private void OnQuery(AmtMembershipQuery query, List<GatewayAction> actions)
    {
        actions.Add(new CancelTimer(GatewayTimer.Retransmit));
        _awaitingQuery = false;
        _unanswered = 0;
        if (query.LimitedCapacity)
        {
            GiveUp(actions, "relay set the L flag (limited capacity)", _options.LoadedHoldDown);
            return;
        }
        TearDownOldAddress(query, actions);
        Credentials = (query.ResponseMac, query.Nonce);
        if (IgmpV3Datagram.TryReadQuery(query.EncapsulatedQuery.Span, out var igmp, out _))
        {
            Qrv = igmp.Qrv == 0 ? _options.DefaultQrv : igmp.Qrv;
            QueryInterval = igmp.QueryInterval > TimeSpan.Zero ? igmp.QueryInterval : _options.DefaultQueryInterval;
        }
        Transition(GatewayState.Established, "membership query", actions);
        if (!_announced.IsEmpty)
        {
            // The answer to a query once groups were announced: the current state, MODE_IS_INCLUDE {S} for each
            // joined group. This covers the periodic query, a query after rediscovery (the relay may have lost or
            // never had our state) and a query after a NAT rebinding (new address, no state).
            var records = _announced.Select(g => new IgmpV3GroupRecord(IgmpRecordType.ModeIsInclude, g, [_source])).ToList();
            SendUpdate(records, actions);
        }
        AnnounceChanges(actions);
        actions.Add(new ArmTimer(GatewayTimer.Refresh, QueryInterval));
    }

    /// <summary>
    /// RFC 7450 §5.2.3.7: a relay that sets G reports the address and port it sees us at. When they change (a NAT
    /// rebinding), send a Teardown with the previous query's MAC, nonce, address and port, so the relay drops the
    /// state of the old address. The relay knows nothing of our groups at the new address: the answer to this
    /// query (current-state records) tells it.
    /// </summary>
    private void TearDownOldAddress(AmtMembershipQuery query, List<GatewayAction> actions)
    {
        if (query.GatewayAddress is null || query.GatewayPort is not { } port)
        {
            _gatewaySeenByRelay = null;
            return;
        }
        if (_gatewaySeenByRelay is { } previous && (previous.Port != port || !previous.Address.Equals(query.GatewayAddress)))
        {
            Send(new AmtTeardown(previous.Mac, previous.Nonce, previous.Port, previous.Address), actions);
        }
        _gatewaySeenByRelay = (query.ResponseMac, query.Nonce, port, query.GatewayAddress);
    }

    /// <summary>ALLOW what is desired but not announced, BLOCK what is announced but no longer desired.
    /// A repeated SetGroups with nothing new sends nothing: repeats already pending keep their ~1 s spacing.</summary>
    private void AnnounceChanges(List<GatewayAction> actions)
    {
        bool hadNone = _announced.IsEmpty;
        bool changed = false;
        foreach (var group in _desired.Except(_announced))
        {
            _pendingChanges[group] = (IgmpRecordType.AllowNewSources, Qrv);
            changed = true;
        }
        foreach (var group in _announced.Except(_desired))
        {
            _pendingChanges[group] = (IgmpRecordType.BlockOldSources, Qrv);
            changed = true;
        }
        if (!changed)
        {
            return;
        }
        _announced = _desired;
        if (hadNone && !_announced.IsEmpty)
        {
            _dataExpectedSince = Now;
            actions.Add(new ArmTimer(GatewayTimer.NoDataCheck, _options.NoDataTimeout));
        }
        SendChanges(actions);
    }

    private void SendChanges(List<GatewayAction> actions, bool armRepeat = true)
    {
        if (_pendingChanges.Count == 0 || Credentials is null)
        {
            return;
        }
        var records = _pendingChanges.OrderBy(kv => kv.Value.Type).ThenBy(kv => kv.Key.ToString(), StringComparer.Ordinal)
            .Select(kv => new IgmpV3GroupRecord(kv.Value.Type, kv.Key, [_source])).ToList();
        SendUpdate(records, actions);
        foreach (var (group, (type, remaining)) in _pendingChanges.ToList())
        {
            if (remaining <= 1)
            {
                _pendingChanges.Remove(group);
            }
            else
            {
                _pendingChanges[group] = (type, remaining - 1);
            }
        }
        if (armRepeat && _pendingChanges.Count > 0)
        {
            actions.Add(new ArmTimer(GatewayTimer.UpdateRepeat, _options.UpdateSpacing));
        }
    }

    private void SendUpdate(List<IgmpV3GroupRecord> records, List<GatewayAction> actions)
    {
        var report = new IgmpV3Report(records);
        var datagram = new byte[IgmpV3Datagram.ReportLength(report)];
        IgmpV3Datagram.WriteReport(datagram, 0, report);
        var (mac, nonce) = Credentials!.Value;
        Send(new AmtMembershipUpdate(mac, nonce, datagram), actions);
    }

    private void CheckData(List<GatewayAction> actions, DateTimeOffset? lastDataAt)
    {
        if (_announced.IsEmpty)
        {
            return;
        }
        var since = lastDataAt is { } seen && seen > _dataExpectedSince ? seen : _dataExpectedSince;
        var quiet = Now - since;
        if (quiet >= _options.NoDataTimeout)
        {
            GiveUp(actions, $"no multicast data for {quiet.TotalSeconds:0.#} s after the join", HoldDown());
            return;
        }
        actions.Add(new ArmTimer(GatewayTimer.NoDataCheck, _options.NoDataTimeout - quiet));
    }

    private void GiveUp(List<GatewayAction> actions, string reason, TimeSpan holdDown)
    {
        foreach (var t in Enum.GetValues<GatewayTimer>())
        {
            actions.Add(new CancelTimer(t));
        }
        Transition(GatewayState.Failed, reason, actions);
        actions.Add(new GatewayGaveUp(reason, holdDown));
    }

    private void Send<T>(T message, List<GatewayAction> actions) where T : notnull
    {
        byte[] bytes;
        AmtMessageType type;
        switch (message)
        {
            case AmtRelayDiscovery d:
                bytes = new byte[d.Length];
                d.Write(bytes);
                type = AmtMessageType.RelayDiscovery;
                break;
            case AmtRequest r:
                bytes = new byte[r.Length];
                r.Write(bytes);
                type = AmtMessageType.Request;
                break;
            case AmtMembershipUpdate u:
                bytes = new byte[u.Length];
                u.Write(bytes);
                type = AmtMessageType.MembershipUpdate;
                break;
            case AmtTeardown t:
                bytes = new byte[t.Length];
                t.Write(bytes);
                type = AmtMessageType.Teardown;
                break;
            default:
                throw new ArgumentException($"the gateway does not send {typeof(T).Name}", nameof(message));
        }
        actions.Add(new SendToRelay(bytes, type));
    }

    /// <summary>Random in [1 s, min(2^n s, max)] for the n-th unanswered attempt (RFC 7450 §5.2.3.4.1).</summary>
    private TimeSpan Backoff()
    {
        double ceiling = Math.Min(Math.Pow(2, _unanswered + 1), _options.MaxRetransmitInterval.TotalSeconds);
        return TimeSpan.FromSeconds(1 + (_jitter.NextDouble() * Math.Max(0, ceiling - 1)));
    }

    private TimeSpan HoldDown() =>
        _options.HoldDownMin + ((_options.HoldDownMax - _options.HoldDownMin) * _jitter.NextDouble());

    private void Transition(GatewayState to, string reason, List<GatewayAction> actions)
    {
        if (to == State)
        {
            return;
        }
        LastReason = reason;
        actions.Add(new GatewayStateChanged(State, to, reason));
        State = to;
    }

    private static uint BitConverterFree(byte[] bytes) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes);
}
