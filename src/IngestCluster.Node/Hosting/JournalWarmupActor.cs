using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace IngestCluster.Node.Hosting;

/// <summary>
/// Recovers an empty persistence id once when the node starts, then stops. That opens the journal and snapshot store
/// and runs their first queries (linq2db's mapping, the connection, JIT) on every node, so that a budget singleton
/// that fails over to this node recovers in milliseconds instead of paying about 3 s of cold start in the middle of
/// a failover (measured in the failover lab). A journal that is down is only logged here: the budget reports it.
/// </summary>
public sealed class JournalWarmupActor : ReceivePersistentActor
{
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(JournalWarmupActor));
    private readonly string _persistenceId;

    public JournalWarmupActor(string nodeName)
    {
        _persistenceId = $"ingest-warmup-{nodeName}";
        Recover<RecoveryCompleted>(_ =>
        {
            NodeLog.JournalWarm(_logger);
            Context.Stop(Self);
        });
        RecoverAny(_ => { });
        CommandAny(_ => { });
    }

    public override string PersistenceId => _persistenceId;

    public static Props Props(string nodeName) => Akka.Actor.Props.Create(() => new JournalWarmupActor(nodeName));

    protected override void OnRecoveryFailure(Exception reason, object? message = null) =>
        NodeLog.JournalWarmupFailed(_logger, reason.Message);
}
