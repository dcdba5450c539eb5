using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Joinfiles;

namespace IngestCluster.Node.Demand;

/// <summary>
/// Demand from a joinfile, the proof of concept's format (<c>source,group[,population]</c> a line). Producers
/// rewrite the whole file at any time, so every change (inotify, through FileSystemWatcher on the directory)
/// restarts a debounce timer, and the file is read once it has been quiet. The difference to the last reading
/// goes to the budget as DemandChanged; the whole set goes as a DemandSnapshot every snapshot interval. Bad
/// lines are logged with their line number and counted; the good lines still count. A missing file is no demand.
/// </summary>
public sealed class JoinfileDemandActor : ReceiveActor, IWithTimers
{
    private const string DebounceTimer = "debounce";
    private static readonly TimeSpan RereadInterval = TimeSpan.FromSeconds(30);

    private readonly string _path;
    private readonly TimeSpan _debounce;
    private readonly IActorRef _budget;
    private readonly string _origin;
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(JoinfileDemandActor));
    private readonly MetricCounter _lineErrors;
    private readonly MetricCounter _reads;
    private FileSystemWatcher? _watcher;
    private ImmutableDictionary<SourceGroup, int> _flows = ImmutableDictionary<SourceGroup, int>.Empty;

    public JoinfileDemandActor(string path, TimeSpan debounce, TimeSpan snapshotInterval, IActorRef budget, string origin, NodeMetrics metrics)
    {
        _path = path;
        _debounce = debounce;
        _budget = budget;
        _origin = origin;
        _lineErrors = metrics.Counter("ingest_joinfile_line_errors_total", help: "Joinfile lines that could not be read.");
        _reads = metrics.Counter("ingest_joinfile_reads_total", help: "Times a joinfile was read.");

        Receive<FileChanged>(_ => Timers.StartSingleTimer(DebounceTimer, Reread.Instance, _debounce));
        Receive<Reread>(_ => File.ReadAllTextAsync(_path).PipeTo(Self,
            success: text => new FileRead(text, null),
            failure: e => new FileRead(null, e)));
        Receive<FileRead>(OnRead);
        Receive<SendSnapshot>(_ => _budget.Tell(DemandProtocol.DemandSnapshot.Of(_origin, _flows)));
        Receive<WatcherFailed>(f =>
        {
            NodeLog.DemandJoinfileWatchFailed(_logger, _path, f.Reason.ToString() ?? "", RereadInterval);
            StartWatching();
        });

        Timers.StartPeriodicTimer("snapshot", SendSnapshot.Instance, snapshotInterval);
        Timers.StartPeriodicTimer("reread", Reread.Instance, RereadInterval);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string path, TimeSpan debounce, TimeSpan snapshotInterval, IActorRef budget, string origin, NodeMetrics metrics) =>
        Akka.Actor.Props.Create(() => new JoinfileDemandActor(path, debounce, snapshotInterval, budget, origin, metrics));

    protected override void PreStart()
    {
        string? directory = Path.GetDirectoryName(_path);
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        if (!File.Exists(_path))
        {
            Joinfile.WriteAtomically(_path, []);
            NodeLog.DemandJoinfileCreated(_logger, _path);
        }
        StartWatching();
        Self.Tell(Reread.Instance);
    }

    protected override void PostStop() => _watcher?.Dispose();

    private void StartWatching()
    {
        _watcher?.Dispose();
        var self = Self;
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!, Path.GetFileName(_path))
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        // Writers replace the file by rename, which the watcher reports as Renamed (to our name) or Created.
        _watcher.Changed += (_, _) => self.Tell(FileChanged.Instance);
        _watcher.Created += (_, _) => self.Tell(FileChanged.Instance);
        _watcher.Deleted += (_, _) => self.Tell(FileChanged.Instance);
        _watcher.Renamed += (_, _) => self.Tell(FileChanged.Instance);
        _watcher.Error += (_, e) => self.Tell(new WatcherFailed(e.GetException().Message));
        _watcher.EnableRaisingEvents = true;
    }

    private void OnRead(FileRead read)
    {
        _reads.Increment();
        ImmutableDictionary<SourceGroup, int> next;
        if (read.Text is not null)
        {
            var content = Joinfile.Parse(read.Text);
            foreach (var error in content.Errors)
            {
                _lineErrors.Increment();
                NodeLog.DemandJoinfileBadLine(_logger, _path, error.ToString() ?? "");
            }
            // The data plane forwards IPv4 multicast only (for now): an IPv6 channel is a line error, not a crash later.
            foreach (var entry in content.Entries.Where(e => e.Source.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork))
            {
                _lineErrors.Increment();
                NodeLog.DemandJoinfileBadLine(_logger, _path, $"({entry.Source},{entry.Group}) is IPv6; this node forwards IPv4 multicast only");
            }
            // A flow listed twice counts with its larger population.
            var builder = ImmutableDictionary.CreateBuilder<SourceGroup, int>();
            foreach (var entry in content.Entries.Where(e => e.Source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
            {
                int population = DemandProtocol.PopulationOf(entry.Population);
                builder[entry.SourceGroup] = builder.TryGetValue(entry.SourceGroup, out int seen) ? Math.Max(seen, population) : population;
            }
            next = builder.ToImmutable();
        }
        else if (read.Error is FileNotFoundException or DirectoryNotFoundException)
        {
            next = ImmutableDictionary<SourceGroup, int>.Empty;
        }
        else
        {
            // Unreadable for now (permissions, a race with the writer): keep the last demand, try again.
            NodeLog.DemandJoinfileUnreadable(_logger, _path, read.Error?.Message);
            Timers.StartSingleTimer(DebounceTimer, Reread.Instance, _debounce + TimeSpan.FromSeconds(1));
            return;
        }

        foreach (var (flow, population) in next)
        {
            if (!_flows.TryGetValue(flow, out int before))
            {
                NodeLog.DemandJoined(_logger, flow, _path, population);
            }
            else if (before == population)
            {
                continue;
            }
            // New, or its population changed: the budget weighs it again.
            _budget.Tell(new DemandProtocol.DemandChanged(_origin, flow, Joined: true, population));
        }
        foreach (var flow in _flows.Keys.Where(f => !next.ContainsKey(f)))
        {
            NodeLog.DemandLeft(_logger, flow, _path);
            _budget.Tell(new DemandProtocol.DemandChanged(_origin, flow, Joined: false));
        }
        _flows = next;
    }

    private sealed class FileChanged : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly FileChanged Instance = new();
    }

    private sealed class Reread : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly Reread Instance = new();
    }

    private sealed class SendSnapshot : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly SendSnapshot Instance = new();
    }

    private sealed record FileRead(string? Text, Exception? Error) : Akka.Actor.INoSerializationVerificationNeeded;

    private sealed record WatcherFailed(string Reason) : Akka.Actor.INoSerializationVerificationNeeded;
}
