using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Hosting.Logging;
using IngestCluster.Protocols;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IngestCluster.Node.Hosting;

/// <summary>
/// The node's own events, as source-generated <see cref="LoggerMessage"/> methods: each has a fixed id and a literal
/// name (<c>budget.admitted</c>, <c>source.groups</c>, …) that starts its message too, so a line is found by the same
/// word in the console and in the JSON format (<c>Logging:Format=json</c>, where the arguments are fields of their
/// own). Ids: 2100s the budget, 2200s the sources, 2300s the PIM listeners, 2400s the tunnels, 2500s the other demand
/// origins (joinfiles), 2600s the node's cluster bookkeeping (journal, singleton watch, cluster address). Actors get their logger with <see cref="For"/>.
/// </summary>
public static partial class NodeLog
{
    /// <summary>The logger of <paramref name="category"/> from the node's logger factory (Akka.Hosting's setup), or a
    /// null logger in an actor system without one (unit tests).</summary>
    public static ILogger For(ActorSystem system, Type category)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(category);
        var setup = system.Settings.Setup.Get<LoggerFactorySetup>();
        return setup.HasValue ? setup.Value.LoggerFactory.CreateLogger(category.FullName ?? category.Name) : NullLogger.Instance;
    }

    // A decision's flows are logged at Information, or at Debug when one decision carries too many for a line each.
    [LoggerMessage(EventId = 2101, Message = "budget.admitted: {Flow} at {Bitrate}, offload {Offload}", EventName = "budget.admitted")]
    public static partial void BudgetAdmitted(ILogger logger, LogLevel level, SourceGroup flow, string bitrate, string offload);


    [LoggerMessage(EventId = 2103, Message = "budget.released: {Flow} {Reason}", EventName = "budget.released")]
    public static partial void BudgetReleased(ILogger logger, LogLevel level, SourceGroup flow, string reason);

    [LoggerMessage(EventId = 2105, Message = "budget.blocked: {Flow} until {Until:u}: {Why}", EventName = "budget.blocked")]
    public static partial void BudgetBlocked(ILogger logger, LogLevel level, SourceGroup flow, DateTimeOffset until, string why);

    [LoggerMessage(2107, LogLevel.Information,
        "budget.decided: {Admitted} admitted, {Released} released, {Blocked} held down in one burst of {Events} persisted events (one line per flow at Debug)",
        EventName = "budget.decided")]
    public static partial void BudgetDecided(ILogger logger, int admitted, int released, int blocked, int events);

    [LoggerMessage(2108, LogLevel.Information, "budget.recovered: {Admitted} admitted flow(s), {HoldDowns} hold-down(s), limit {Limit}",
        EventName = "budget.recovered")]
    public static partial void BudgetRecovered(ILogger logger, int admitted, int holdDowns, string limit);

    [LoggerMessage(2109, LogLevel.Information, "budget.limit_changed: {Before} -> {After} ({Why})", EventName = "budget.limit_changed")]
    public static partial void BudgetLimitChanged(ILogger logger, string before, string after, string why);

    [LoggerMessage(2110, LogLevel.Information, "budget.member_gone: {Node} {How}; forgot {Origins} origin(s); re-sending every source's groups",
        EventName = "budget.member_gone")]
    public static partial void BudgetMemberGone(ILogger logger, string node, string how, int origins);

    [LoggerMessage(2111, LogLevel.Information, "budget.no_metadata: {Flow}: {Why}", EventName = "budget.no_metadata")]
    public static partial void BudgetNoMetadata(ILogger logger, SourceGroup flow, string why);

    [LoggerMessage(2112, LogLevel.Error,
        "budget.journal_failed: could not persist {What} ({Why}); the budget stops and restarts with backoff, admitting nothing new until the journal answers; the sources keep their flows",
        EventName = "budget.journal_failed")]
    public static partial void BudgetJournalFailed(ILogger logger, Exception cause, string what, string why);

    [LoggerMessage(2113, LogLevel.Error, "budget.recovery_failed: the journal did not serve the budget's recovery ({Why}); retrying with backoff",
        EventName = "budget.recovery_failed")]
    public static partial void BudgetRecoveryFailed(ILogger logger, Exception cause, string why);

    [LoggerMessage(2114, LogLevel.Warning, "budget.snapshot_failed: {Why}", EventName = "budget.snapshot_failed")]
    public static partial void BudgetSnapshotFailed(ILogger logger, Exception cause, string why);

    [LoggerMessage(2115, LogLevel.Warning, "budget.delete_failed: {Why}", EventName = "budget.delete_failed")]
    public static partial void BudgetDeleteFailed(ILogger logger, Exception cause, string why);

    [LoggerMessage(2201, LogLevel.Information, "source.groups: {Source} [{Groups}] (was [{Was}]) at {At:O}", EventName = "source.groups")]
    public static partial void SourceGroups(ILogger logger, string source, string groups, string was, DateTimeOffset at);

    [LoggerMessage(2202, LogLevel.Information, "source.state: {Source} {From} -> {To}: {Detail}", EventName = "source.state")]
    public static partial void SourceState(ILogger logger, string source, string from, string to, string detail);

    [LoggerMessage(2203, LogLevel.Information, "source.handoff: {Source} moves to another node; its tunnel lingers {Linger}", EventName = "source.handoff")]
    public static partial void SourceHandOff(ILogger logger, string source, TimeSpan linger);

    [LoggerMessage(2204, LogLevel.Information, "source.stopped: {Source} with [{Groups}] at {At:O}", EventName = "source.stopped")]
    public static partial void SourceStopped(ILogger logger, string source, string groups, DateTimeOffset at);

    [LoggerMessage(2301, LogLevel.Information, "pim.started: {Interface} (index {Index}), GenID {GenerationId}, accepting Joins to {Accepted}",
        EventName = "pim.started")]
    public static partial void PimStarted(ILogger logger, string @interface, int index, uint generationId, string accepted);

    [LoggerMessage(2302, LogLevel.Information, "pim.stopped: goodbye sent on {Interface}", EventName = "pim.stopped")]
    public static partial void PimStopped(ILogger logger, string @interface);

    [LoggerMessage(2303, LogLevel.Error, "pim.socket_failed: {Interface}: {Why}; retrying in 10 s", EventName = "pim.socket_failed")]
    public static partial void PimSocketFailed(ILogger logger, string @interface, string why);

    [LoggerMessage(2304, LogLevel.Information, "pim.accepting: Joins on {Interface} addressed to {Accepted}", EventName = "pim.accepting")]
    public static partial void PimAccepting(ILogger logger, string @interface, string accepted);

    [LoggerMessage(2305, LogLevel.Warning, "pim.send_failed: {Interface}: {Error}", EventName = "pim.send_failed")]
    public static partial void PimSendFailed(ILogger logger, string @interface, SocketError error);

    [LoggerMessage(2306, LogLevel.Information, "pim.neighbor_up: {Neighbor} on {Interface}, GenID {GenerationId}", EventName = "pim.neighbor_up")]
    public static partial void PimNeighborUp(ILogger logger, IPAddress neighbor, string @interface, string generationId);

    [LoggerMessage(2307, LogLevel.Information, "pim.neighbor_restarted: {Neighbor} on {Interface}, new GenID {GenerationId}",
        EventName = "pim.neighbor_restarted")]
    public static partial void PimNeighborRestarted(ILogger logger, IPAddress neighbor, string @interface, string generationId);

    [LoggerMessage(2308, LogLevel.Information, "pim.neighbor_goodbye: {Neighbor} on {Interface}", EventName = "pim.neighbor_goodbye")]
    public static partial void PimNeighborGoodbye(ILogger logger, IPAddress neighbor, string @interface);

    [LoggerMessage(2309, LogLevel.Information, "pim.neighbor_expired: {Neighbor} on {Interface}", EventName = "pim.neighbor_expired")]
    public static partial void PimNeighborExpired(ILogger logger, IPAddress neighbor, string @interface);

    [LoggerMessage(2310, LogLevel.Information, "pim.joined: {Flow} on {Interface}", EventName = "pim.joined")]
    public static partial void PimJoined(ILogger logger, SourceGroup flow, string @interface);

    [LoggerMessage(2311, LogLevel.Information, "pim.left: {Flow} on {Interface}", EventName = "pim.left")]
    public static partial void PimLeft(ILogger logger, SourceGroup flow, string @interface);

    // Counted in ingest_pim_packets_dropped_total; one line each only at Debug (a flood must not flood the log).
    [LoggerMessage(2312, LogLevel.Debug, "pim.malformed: from {From} on {Interface}: {Error}", EventName = "pim.malformed")]
    public static partial void PimMalformed(ILogger logger, IPAddress from, string @interface, string error);

    [LoggerMessage(2401, LogLevel.Information, "tunnel.open: relay {Relay} for source {Source} from local port {Port} ({Receiving})",
        EventName = "tunnel.open")]
    public static partial void TunnelOpen(ILogger logger, IPEndPoint relay, IPAddress source, int port, string receiving);

    [LoggerMessage(2402, LogLevel.Information, "tunnel.state: relay {Relay} source {Source}: {From} -> {To} ({Reason})", EventName = "tunnel.state")]
    public static partial void TunnelState(ILogger logger, IPEndPoint relay, IPAddress source, string from, string to, string reason);

    [LoggerMessage(2403, LogLevel.Warning, "tunnel.gave_up: relay {Relay} source {Source}: {Reason}; hold-down {HoldDown}", EventName = "tunnel.gave_up")]
    public static partial void TunnelGaveUp(ILogger logger, IPEndPoint relay, IPAddress source, string reason, TimeSpan holdDown);

    [LoggerMessage(2404, LogLevel.Warning, "tunnel.send_failed: {Message} to {Relay}: {Error}", EventName = "tunnel.send_failed")]
    public static partial void TunnelSendFailed(ILogger logger, string message, IPEndPoint relay, SocketError error);

    [LoggerMessage(2405, LogLevel.Information, "tunnel.detached: relay {Relay} for source {Source} lingers, still forwarding", EventName = "tunnel.detached")]
    public static partial void TunnelDetached(ILogger logger, IPEndPoint relay, IPAddress source);

    [LoggerMessage(2406, LogLevel.Information, "tunnel.linger_ended: relay {Relay}, {Sent} leave message(s) sent", EventName = "tunnel.linger_ended")]
    public static partial void TunnelLingerEnded(ILogger logger, IPEndPoint relay, int sent);

    [LoggerMessage(2407, LogLevel.Information, "tunnel.closed: relay {Relay} for source {Source}", EventName = "tunnel.closed")]
    public static partial void TunnelClosed(ILogger logger, IPEndPoint relay, IPAddress source);

    // The receive buffer resized to the measured rate (Tunnels:ReceiveBufferFloor/Time/Ceiling).
    [LoggerMessage(2408, LogLevel.Debug, "tunnel.receive_buffer: relay {Relay}: {Bytes} B for {Rate} B/s", EventName = "tunnel.receive_buffer")]
    public static partial void TunnelReceiveBuffer(ILogger logger, IPEndPoint relay, int bytes, long rate);

    [LoggerMessage(2501, LogLevel.Information, "demand.joinfile_created: {Path} (one 'source,group[,population]' a line)", EventName = "demand.joinfile_created")]
    public static partial void DemandJoinfileCreated(ILogger logger, string path);

    [LoggerMessage(2502, LogLevel.Warning, "demand.joinfile_bad_line: {Path}: {Error}", EventName = "demand.joinfile_bad_line")]
    public static partial void DemandJoinfileBadLine(ILogger logger, string path, string error);

    [LoggerMessage(2503, LogLevel.Warning, "demand.joinfile_unreadable: {Path}: {Why}", EventName = "demand.joinfile_unreadable")]
    public static partial void DemandJoinfileUnreadable(ILogger logger, string path, string? why);

    [LoggerMessage(2504, LogLevel.Warning, "demand.joinfile_watch_failed: {Path}: {Why}; re-reading every {Every}", EventName = "demand.joinfile_watch_failed")]
    public static partial void DemandJoinfileWatchFailed(ILogger logger, string path, string why, TimeSpan every);

    [LoggerMessage(2505, LogLevel.Information, "demand.joined: {Flow} from {Path} (population {Population})", EventName = "demand.joined")]
    public static partial void DemandJoined(ILogger logger, SourceGroup flow, string path, int population);

    [LoggerMessage(2506, LogLevel.Information, "demand.left: {Flow} from {Path}", EventName = "demand.left")]
    public static partial void DemandLeft(ILogger logger, SourceGroup flow, string path);

    [LoggerMessage(2507, LogLevel.Information, "demand.exported: {Count} admitted flow(s) to {Path}", EventName = "demand.exported")]
    public static partial void DemandExported(ILogger logger, int count, string path);

    [LoggerMessage(2508, LogLevel.Warning, "demand.export_failed: {Path}: {Why}", EventName = "demand.export_failed")]
    public static partial void DemandExportFailed(ILogger logger, string path, string why);

    [LoggerMessage(2509, LogLevel.Warning, "demand.export_budget_unavailable: {Why}", EventName = "demand.export_budget_unavailable")]
    public static partial void DemandExportBudgetUnavailable(ILogger logger, string why);

    [LoggerMessage(2601, LogLevel.Debug, "journal.warm: journal and snapshot store answered", EventName = "journal.warm")]
    public static partial void JournalWarm(ILogger logger);

    [LoggerMessage(2602, LogLevel.Warning, "journal.warmup_failed: {Why}", EventName = "journal.warmup_failed")]
    public static partial void JournalWarmupFailed(ILogger logger, string why);

    [LoggerMessage(2603, LogLevel.Information, "journal.identity: this node writes to journal {Journal} ({Provider})", EventName = "journal.identity")]
    public static partial void JournalIdentity(ILogger logger, string journal, string provider);

    [LoggerMessage(2604, LogLevel.Warning, "journal.identity_unknown: {Why}; retrying in 2 s", EventName = "journal.identity_unknown")]
    public static partial void JournalIdentityUnknown(ILogger logger, string? why);

    [LoggerMessage(2605, LogLevel.Error,
        "journal.mismatch: the members do not share one journal, so the budget's decisions do not survive a failover between them: {Journals}. Point every node's Persistence:ConnectionString at one database (PostgreSQL for nodes on several hosts).",
        EventName = "journal.mismatch")]
    public static partial void JournalMismatch(ILogger logger, string journals);

    [LoggerMessage(2606, LogLevel.Warning, "facts.update_failed: {Failure}", EventName = "facts.update_failed")]
    public static partial void FactsUpdateFailed(ILogger logger, string failure);

    [LoggerMessage(2607, LogLevel.Warning,
        "singleton.missing: no {Singleton} singleton (role {Role}) answered for {Seconds} s; the oldest member with the role should host it",
        EventName = "singleton.missing")]
    public static partial void SingletonMissing(ILogger logger, string singleton, string role, double seconds);

    [LoggerMessage(2608, LogLevel.Information, "singleton.found: {Singleton} answers again", EventName = "singleton.found")]
    public static partial void SingletonFound(ILogger logger, string singleton);

    [LoggerMessage(2609, LogLevel.Information, "cluster_address.held: this node now sends Hellos from {Address} on {Interface}, GenID {GenerationId}",
        EventName = "cluster_address.held")]
    public static partial void ClusterAddressHeld(ILogger logger, IPAddress address, string @interface, uint generationId);

    [LoggerMessage(2610, LogLevel.Information, "cluster_address.released: {Address} on {Interface} (GenID {GenerationId}); the next holder takes over",
        EventName = "cluster_address.released")]
    public static partial void ClusterAddressReleased(ILogger logger, IPAddress address, string @interface, uint generationId);

    [LoggerMessage(2611, LogLevel.Error, "cluster_address.socket_failed: {Address} on {Interface}: {Why}; retrying in 5 s", EventName = "cluster_address.socket_failed")]
    public static partial void ClusterAddressSocketFailed(ILogger logger, IPAddress address, string @interface, string why);

    [LoggerMessage(2612, LogLevel.Warning, "cluster_address.send_failed: {Address} on {Interface}: {Error}", EventName = "cluster_address.send_failed")]
    public static partial void ClusterAddressSendFailed(ILogger logger, IPAddress address, string @interface, SocketError error);
}
