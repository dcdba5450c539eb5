using Akka.Actor;
using Akka.Event;
using Akka.Hosting.Logging;
using Microsoft.Extensions.Logging;
using MelLogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace IngestCluster.Node.Hosting;

/// <summary>
/// Akka's log events into Microsoft.Extensions.Logging as plain messages. Akka.Hosting's own logger writes every event
/// under one category (<c>Akka.Actor.ActorSystem</c>) with Akka's text prefix inside the message
/// (<c>[INFO][12/02/2026 06:25:01.069Z][Thread 0001][remoting (akka://ingest)]</c>), so each line carried a second
/// timestamp and the thread. Here the category is the logging class (<c>Akka.Cluster.Cluster</c>,
/// <c>IngestCluster.Node.Budget.BandwidthBudgetActor</c>), the message is only the message, and the actor path (the
/// log source) follows it when the message does not already name it. Timestamps come from the console formatter.
/// It also counts the cluster refusals that Akka only logs: a seed that answered from an actor system of another name
/// (or another transport protocol) is ignored by Akka, and this node never joins; that is counted in
/// <c>ingest_cluster_join_refused_total{reason}</c> and logged once more as <c>cluster.join_refused</c> with the
/// setting to fix.
/// </summary>
public sealed class AkkaLoggerBridge : LoggerFactoryLogger
{
    private readonly ILoggerFactory _factory;
    private readonly Dictionary<string, ILogger> _byCategory = new(StringComparer.Ordinal);
    private readonly NodeMetrics? _metrics;

    public AkkaLoggerBridge()
    {
        var setup = Context.System.Settings.Setup.Get<LoggerFactorySetup>();
        _factory = setup.HasValue ? setup.Value.LoggerFactory : Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        var metrics = Context.System.Settings.Setup.Get<NodeMetricsSetup>();
        _metrics = metrics.HasValue ? metrics.Value.Metrics : null;
    }

    /// <summary>What a refusal Akka logs is about, or null: the warnings Akka.Cluster writes when a seed it was sent
    /// to answered from another actor system name or protocol (it ignores that seed and never joins).</summary>
    public static string? JoinRefusal(LogEvent log, string message)
    {
        if (log.LogLevel() != Akka.Event.LogLevel.WarningLevel)
        {
            return null;
        }
        if (message.Contains("wrong ActorSystem name", StringComparison.Ordinal))
        {
            return "system_name";
        }
        return message.Contains("join member with wrong protocol", StringComparison.Ordinal) ? "protocol" : null;
    }

    protected override void Log(LogEvent log, ActorPath path)
    {
        var logger = Logger(Category(log));
        var level = Level(log.LogLevel());
        bool enabled = logger.IsEnabled(level);
        // Only a warning can be a refusal: other events are formatted only when they are written.
        if (!enabled && log.LogLevel() != Akka.Event.LogLevel.WarningLevel)
        {
            return;
        }
        string message = Message(log);
        if (JoinRefusal(log, message) is { } reason)
        {
            _metrics?.Counter("ingest_cluster_join_refused_total", $"reason=\"{reason}\"",
                "Seeds this node would not join (another actor system name or protocol), by reason").Increment();
            Logger("IngestCluster.Node.Hosting.Cluster").LogWarning(
                "cluster.join_refused: a seed answered from another {Reason} ({Detail}); this node stays out of that cluster. " +
                "Every member needs the same Cluster:SystemName and seed addresses that name it", reason.Replace('_', ' '), message);
        }
        if (!enabled)
        {
            return;
        }
        logger.Log(level, default, message, log.Cause, static (m, _) => m);
    }

    private ILogger Logger(string category)
    {
        if (!_byCategory.TryGetValue(category, out var logger))
        {
            logger = _factory.CreateLogger(category);
            _byCategory[category] = logger;
        }
        return logger;
    }

    /// <summary>The event's own text (formatted with its arguments), then its source unless the text names it.</summary>
    public static string Message(LogEvent log)
    {
        string text;
        try
        {
            text = log.Message?.ToString() ?? string.Empty;
        }
        catch (FormatException)
        {
            text = log.Message is LogMessage m ? $"{m.Format} (arguments did not fit: {string.Join(", ", m.Unformatted())})" : "(unformattable message)";
        }
        string source = log.LogSource ?? string.Empty;
        return source.Length == 0 || text.Contains(source, StringComparison.Ordinal) ? text : $"{text} ({source})";
    }

    /// <summary>The logging class, a generic one without its arity suffix (<c>ShardRegion</c>, not
    /// <c>ShardRegion`1</c>); for a log source given as text (remoting's "remoting (akka://ingest)"), Akka. and its
    /// first word.</summary>
    public static string Category(LogEvent log)
    {
        var type = log.LogClass;
        if (type is null || type == typeof(DummyClassForStringSources))
        {
            string source = log.LogSource ?? string.Empty;
            int space = source.IndexOf(' ', StringComparison.Ordinal);
            string word = space > 0 ? source[..space] : source;
            return word.Length == 0 || word.Contains('/', StringComparison.Ordinal) ? "Akka" : "Akka." + word;
        }
        string name = type.FullName ?? type.Name;
        int tick = name.IndexOf('`', StringComparison.Ordinal);
        return tick < 0 ? name : name[..tick];
    }

    private static MelLogLevel Level(Akka.Event.LogLevel level) => level switch
    {
        Akka.Event.LogLevel.DebugLevel => MelLogLevel.Debug,
        Akka.Event.LogLevel.InfoLevel => MelLogLevel.Information,
        Akka.Event.LogLevel.WarningLevel => MelLogLevel.Warning,
        _ => MelLogLevel.Error,
    };
}


/// <summary>Hands the node's counters to actors Akka creates by itself (the logger bridge).</summary>
public sealed class NodeMetricsSetup(NodeMetrics metrics) : Akka.Actor.Setup.Setup
{
    public NodeMetrics Metrics { get; } = metrics;
}
