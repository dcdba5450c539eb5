using System.Text.Json;
using System.Text.Json.Serialization;

namespace IngestCluster.Admin.Contracts;

// The node's admin API, resource by resource: what each route returns and accepts. The node serves these records,
// ingestctl and the status page read them, the tests assert on them. Names are the operator's words (FRR's for PIM,
// Akka's for the cluster), and every value is text or a number a person can read without our types.

/// <summary>The routes, relative to the admin URL (http://127.0.0.1:9110 by default).</summary>
public static class AdminRoutes
{
    public const string Cluster = "/api/cluster";
    public const string ClusterLeave = "/api/cluster/leave";
    public const string ClusterDown = "/api/cluster/down";
    public const string ClusterJoin = "/api/cluster/join";

    /// <summary>Membership events, oldest first; <c>?after=N</c> returns those with a sequence number above N.</summary>
    public const string ClusterEvents = "/api/cluster/events";

    public const string Sharding = "/api/sharding";

    /// <summary>This node's region of one entity type: <c>/api/sharding/{type}/region</c>.</summary>
    public static string ShardingRegion(string typeName) => $"/api/sharding/{Uri.EscapeDataString(typeName)}/region";

    /// <summary>The whole cluster's shards of one entity type: <c>/api/sharding/{type}/shards</c>.</summary>
    public static string ShardingShards(string typeName) => $"/api/sharding/{Uri.EscapeDataString(typeName)}/shards";

    public const string Actors = "/api/actors";
    public const string Flows = "/api/flows";
    public const string Sources = "/api/sources";
    public const string Tunnels = "/api/tunnels";
    public const string Pim = "/api/pim";
    public const string RelayOverrides = "/api/relay-overrides";
    public const string LogLevel = "/api/log-level";

    /// <summary>The budget: <c>GET /budget</c> (<see cref="BudgetView"/>).</summary>
    public const string Budget = "/budget";

    /// <summary><c>POST /budget/limit</c> with a <see cref="BudgetLimitRequest"/> (or a bare <c>2Gbps</c>).</summary>
    public const string BudgetLimit = "/budget/limit";

    /// <summary><c>POST /api/capture</c> with a <see cref="CaptureRequest"/>: a pcap file taken on the node.</summary>
    public const string Capture = "/api/capture";

    public const string Alive = "/alive";
    public const string Ready = "/ready";
}

/// <summary>The body of every 4xx/5xx answer: what went wrong, for a person.</summary>
public sealed record AdminError(string Error);

/// <summary>One cluster member as this node sees it.</summary>
/// <param name="Status">Akka's member status: Joining, WeaklyUp, Up, Leaving, Exiting, Down, Removed.</param>
/// <param name="Reachable">Whether every member that observes this one can reach it.</param>
public sealed record MemberView(string Address, string Status, IReadOnlyList<string> Roles, bool Reachable);

/// <summary><c>GET /api/cluster</c>.</summary>
/// <param name="Self">The answering node's cluster address.</param>
/// <param name="Leader">The leader among reachable members, if any.</param>
public sealed record ClusterView(string Self, string SelfStatus, string? Leader, IReadOnlyList<MemberView> Members);

/// <summary>The body of <c>POST /api/cluster/down</c> and <c>/join</c>, and optionally <c>/leave</c>: a cluster address
/// (<c>akka.tcp://ingest@10.0.0.1:4053</c>).</summary>
public sealed record AddressRequest(string Address);

/// <summary>What a leave, down or join did.</summary>
public sealed record ClusterCommandResult(string Command, string Address, string Detail);

/// <summary>One membership or reachability change, in the order this node saw them.</summary>
/// <param name="Event">MemberJoined, MemberUp, MemberLeft, MemberExited, MemberDowned, MemberRemoved,
/// UnreachableMember, ReachableMember, LeaderChanged.</param>
public sealed record ClusterEventView(long Sequence, DateTimeOffset At, string Event, string Address, string Status);

/// <summary><c>GET /api/cluster/events?after=N</c>: <paramref name="Last"/> is the sequence number to pass next.</summary>
public sealed record ClusterEventsView(long Last, IReadOnlyList<ClusterEventView> Events);

/// <summary><c>GET /api/sharding</c>: the entity types with a region (or proxy) on this node.</summary>
public sealed record ShardingView(IReadOnlyList<string> TypeNames);

/// <summary>One shard and its entities.</summary>
public sealed record ShardView(string ShardId, int EntityCount, IReadOnlyList<string> EntityIds);

/// <summary><c>GET /api/sharding/{type}/region</c>: this node's region (Akka's <c>GetShardRegionState</c>).</summary>
/// <param name="FailedShards">Shards that did not answer in time.</param>
public sealed record RegionView(string TypeName, string Node, IReadOnlyList<ShardView> Shards, IReadOnlyList<string> FailedShards);

/// <summary>One member's part of a type's shards.</summary>
public sealed record RegionShardsView(string Node, IReadOnlyList<ShardView> Shards, IReadOnlyList<string> FailedShards);

/// <summary><c>GET /api/sharding/{type}/shards</c>: every region's shards and entity counts (Akka's
/// <c>GetClusterShardingStats</c>; entity ids are not listed there).</summary>
public sealed record ClusterShardsView(string TypeName, IReadOnlyList<RegionShardsView> Regions);

/// <summary>One actor under <c>/user</c> or <c>/system</c>, with its children to the depth asked.</summary>
public sealed record ActorView(string Path, IReadOnlyList<ActorView> Children);

/// <summary><c>GET /api/actors?depth=N</c>: this node's actor tree.</summary>
public sealed record ActorTreeView(string Node, int Depth, IReadOnlyList<ActorView> Roots);

/// <summary>One admitted (S,G) flow.</summary>
/// <param name="State">The source's state (SourceState names: Resolving, Tunnelling, …), or "unknown" when its entity
/// did not answer.</param>
/// <param name="Node">The cluster address of the member that hosts the source, and so carries the flow.</param>
/// <param name="Packets">Packets forwarded onto the LAN: this node's counters, so null when another member carries
/// the flow (ask that one).</param>
public sealed record FlowView(string Source, string Group, string State, string? Node, long? Packets, long? Bytes, long? Drops);

/// <summary><c>GET /api/flows</c>: the budget's admitted set with each flow's state.</summary>
/// <param name="Error">Set when the budget singleton did not answer; the list is then empty.</param>
public sealed record FlowsView(string Node, IReadOnlyList<FlowView> Flows, string? Error);

/// <summary>One source entity: the relay it chose and the ones it holds down.</summary>
/// <param name="Detail">Why it is in its state, e.g. "no AMTRELAY record for 10.0.5.2".</param>
public sealed record SourceView(string Source, string State, string? Relay, string Detail, IReadOnlyList<string> Groups,
    IReadOnlyList<string> HeldDownRelays, string Node);

/// <summary><c>GET /api/sources</c>; unanswered sources are listed in <paramref name="Unanswered"/>.</summary>
public sealed record SourcesView(IReadOnlyList<SourceView> Sources, IReadOnlyList<string> Unanswered, string? Error);

/// <summary>One source's AMT tunnel, as its entity reports it, with this node's counters for its flows.</summary>
/// <param name="State">The source's state; a tunnel is up while it is Tunnelling.</param>
public sealed record TunnelView(string Source, string? Relay, string State, string Node, int Groups, long? Packets, long? Bytes, long? Drops);

/// <summary><c>GET /api/tunnels</c>: every source with a relay, and the node-wide data-path counters.</summary>
public sealed record TunnelsView(IReadOnlyList<TunnelView> Tunnels, IReadOnlyDictionary<string, long> NodeCounters, string? Error);

/// <summary>A PIM neighbour heard on one interface.</summary>
public sealed record PimNeighborView(string Address, uint? GenerationId, uint? DrPriority, DateTimeOffset? ExpiresAt);

/// <summary>One (S,G) a downstream router joined: FRR's downstream states (NOINFO, JOIN, PRUNE_PENDING).</summary>
public sealed record PimJoinView(string Source, string Group, string State, DateTimeOffset? ExpiresAt);

/// <summary>One PIM interface of this node.</summary>
public sealed record PimInterfaceView(string Interface, uint GenerationId, IReadOnlyList<PimNeighborView> Neighbors,
    IReadOnlyList<PimJoinView> Joins, string? Error);

/// <summary><c>GET /api/pim</c>.</summary>
public sealed record PimView(string Node, IReadOnlyList<PimInterfaceView> Interfaces);

/// <summary>An operator's relay for a source prefix.</summary>
/// <param name="Relay">As given: an address, <c>address:port</c>, or a DNS name (<c>amt-relay.m2icast.net</c>).</param>
/// <param name="ResolvedTo">The address and port the name resolved to when it was added or the node started;
/// null when the name did not resolve (the override is kept and not used).</param>
/// <param name="FromSettings">From <c>Relays:Overrides</c> (change it there), rather than added through the API.</param>
public sealed record RelayOverrideView(string Prefix, string Relay, string? ResolvedTo, bool FromSettings);

/// <summary><c>GET /api/relay-overrides</c>: this node's overrides (from settings and added at run time).</summary>
public sealed record RelayOverridesView(string Node, bool ConsultBeforeDns, IReadOnlyList<RelayOverrideView> Overrides);

/// <summary>The body of <c>POST /api/relay-overrides</c>.</summary>
public sealed record RelayOverrideRequest(string Prefix, string Relay);

/// <summary><c>GET</c> and <c>PUT /api/log-level</c>: Trace, Debug, Information, Warning, Error, Critical.</summary>
public sealed record LogLevelView(string Level);

/// <summary>One flow the budget admitted.</summary>
/// <param name="OffloadBitsPerSecond">(population − 1) × bitrate: what admitting it saves the network; the ranking.</param>
/// <param name="Population">Receivers behind it now (0 while no origin claims it).</param>
/// <param name="BitrateFrom">Where its bitrate came from: its CBACC metadata, or the settings' default.</param>
public sealed record BudgetAdmittedView(string Source, string Group, long BitsPerSecond, long OffloadBitsPerSecond, int Population, string BitrateFrom);

/// <summary>One flow the budget holds down, and why.</summary>
/// <param name="Until">End of its hold-down: it is considered again then.</param>
/// <param name="Reason">OverLimit, NoMetadata, Dropped, …; <paramref name="Detail"/> is the sentence for people.</param>
public sealed record BudgetBlockedView(string Source, string Group, DateTimeOffset Until, string Reason, string Detail, int Population);

/// <summary>A demanded flow waiting for its CBACC metadata, since when.</summary>
public sealed record BudgetPendingView(string Source, string Group, DateTimeOffset Since);

/// <summary><c>GET /budget</c> and the answer to <c>POST /budget/limit</c>: the cluster's bandwidth budget.</summary>
/// <param name="Limit">The limit in force (<c>2Gbps</c>), null when none is set (every flow is admitted).</param>
/// <param name="LimitFrom"><c>settings</c> (Budget:Limit), <c>admin</c> (POST /budget/limit) or <c>none</c>.</param>
/// <param name="Origins">The demand origins (joinfiles, PIM interfaces) the budget hears from.</param>
public sealed record BudgetView(string? Limit, long? LimitBitsPerSecond, string LimitFrom, string Used, long UsedBitsPerSecond,
    IReadOnlyList<BudgetAdmittedView> Admitted, IReadOnlyList<BudgetBlockedView> Blocked, IReadOnlyList<BudgetPendingView> Pending,
    IReadOnlyList<string> Origins);

/// <summary>The body of <c>POST /budget/limit</c>: a bitrate with its unit (<c>2Gbps</c>, <c>800Mbps</c>), or null or
/// <c>settings</c> to hand the limit back to <c>Budget:Limit</c>.</summary>
public sealed record BudgetLimitRequest(string? Limit);

/// <summary>The body of <c>POST /api/capture</c>.</summary>
/// <param name="Interface">A network interface of the node, e.g. <c>eth1</c> or <c>lo</c>.</param>
/// <param name="Seconds">How long to capture, 1 to 60.</param>
/// <param name="Filter"><c>pim</c>, <c>amt</c> or <c>data</c> (docs/operations.md gives each one's BPF filter).</param>
public sealed record CaptureRequest(string Interface, int Seconds, string Filter);

/// <summary>The JSON form every party uses: camelCase names, enums as text, nulls written.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(AdminError))]
[JsonSerializable(typeof(ClusterView))]
[JsonSerializable(typeof(AddressRequest))]
[JsonSerializable(typeof(ClusterCommandResult))]
[JsonSerializable(typeof(ClusterEventsView))]
[JsonSerializable(typeof(ClusterEventView))]
[JsonSerializable(typeof(ShardingView))]
[JsonSerializable(typeof(RegionView))]
[JsonSerializable(typeof(ClusterShardsView))]
[JsonSerializable(typeof(ActorTreeView))]
[JsonSerializable(typeof(FlowsView))]
[JsonSerializable(typeof(SourcesView))]
[JsonSerializable(typeof(TunnelsView))]
[JsonSerializable(typeof(PimView))]
[JsonSerializable(typeof(RelayOverridesView))]
[JsonSerializable(typeof(RelayOverrideRequest))]
[JsonSerializable(typeof(LogLevelView))]
[JsonSerializable(typeof(BudgetView))]
[JsonSerializable(typeof(BudgetLimitRequest))]
[JsonSerializable(typeof(CaptureRequest))]
public sealed partial class AdminJson : JsonSerializerContext;
