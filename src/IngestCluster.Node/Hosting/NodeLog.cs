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
/// own). Ids: 2100s the budget, 2200s the sources. Actors get their logger with <see cref="For"/>.
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
}
