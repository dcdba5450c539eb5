using Akka.Actor;
using Akka.Event;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols.Joinfiles;

namespace IngestCluster.Node.Demand;

/// <summary>
/// Exports the cluster's admitted set as a joinfile, so the node can sit beside the proof of concept's
/// containers (its DRIAD manager reads such a file). It asks the budget every interval and rewrites the file
/// atomically (temp file, then rename) only when the set changed.
/// </summary>
public sealed class AdmittedJoinfileWriter : ReceiveActor, IWithTimers
{
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(AdmittedJoinfileWriter));
    private IReadOnlyList<JoinfileEntry>? _written;

    public AdmittedJoinfileWriter(string path, IActorRef budget, TimeSpan interval)
    {
        Receive<Poll>(_ => budget.Ask<BudgetProtocol.BudgetReport>(BudgetProtocol.GetBudget.Instance, TimeSpan.FromSeconds(5))
            .PipeTo(Self, failure: e => new Status.Failure(e)));
        Receive<BudgetProtocol.BudgetReport>(report =>
        {
            // The population goes on in the third column, as the proof of concept's containers read it.
            List<JoinfileEntry> entries = [.. report.Admitted.Select(a =>
                new JoinfileEntry(a.Flow.Source, a.Flow.Group, a.Population > 0 ? a.Population : null))];
            if (_written is not null && _written.SequenceEqual(entries))
            {
                return;
            }
            try
            {
                Joinfile.WriteAtomically(path, entries);
                _written = entries;
                NodeLog.DemandExported(_logger, entries.Count, path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                NodeLog.DemandExportFailed(_logger, path, e.Message);
            }
        });
        Receive<Status.Failure>(f => NodeLog.DemandExportBudgetUnavailable(_logger, f.Cause.Message));
        Timers.StartPeriodicTimer("poll", Poll.Instance, TimeSpan.Zero, interval);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string path, IActorRef budget, TimeSpan interval) =>
        Akka.Actor.Props.Create(() => new AdmittedJoinfileWriter(path, budget, interval));

    private sealed class Poll : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly Poll Instance = new();
    }
}
