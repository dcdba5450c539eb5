using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Logging;

namespace IngestCluster.Node.Admin;

/// <summary>
/// The node's log level, changed at run time (<c>PUT /api/log-level</c>, <c>ingestctl log level debug</c>). Microsoft's
/// logging filters on it; Akka's logging bus is set to the nearest Akka level, so Akka does not even format events
/// below it.
/// </summary>
public sealed class LogLevelSwitch(LogLevel initial)
{
    private volatile int _minimum = (int)initial;
    private ActorSystem? _system;

    public LogLevel Minimum => (LogLevel)_minimum;

    public bool IsEnabled(LogLevel level) => level != LogLevel.None && (int)level >= _minimum;

    /// <summary>ASP.NET Core's own categories (a line per request) are shown below Warning only when the level is
    /// Debug or lower.</summary>
    public bool IsEnabled(string? category, LogLevel level) =>
        IsEnabled(level) && (level >= LogLevel.Warning || _minimum <= (int)LogLevel.Debug
            || category is null || !category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));

    public void Set(LogLevel level)
    {
        _minimum = (int)level;
        _system?.EventStream.SetLogLevel(ToAkka(level));
    }

    internal void Attach(ActorSystem system)
    {
        _system = system;
        system.EventStream.SetLogLevel(ToAkka(Minimum));
    }

    /// <summary>Parses a level name as Microsoft.Extensions.Logging spells it, case-insensitively (also "info",
    /// "warn").</summary>
    public static bool TryParseLevel(string text, out LogLevel level)
    {
        switch (text.Trim().ToUpperInvariant())
        {
            case "INFO":
                level = LogLevel.Information;
                return true;
            case "WARN":
                level = LogLevel.Warning;
                return true;
        }
        return Enum.TryParse(text.Trim(), ignoreCase: true, out level) && Enum.IsDefined(level) && level != LogLevel.None
            && !int.TryParse(text, out _);
    }

    private static Akka.Event.LogLevel ToAkka(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => Akka.Event.LogLevel.DebugLevel,
        LogLevel.Information => Akka.Event.LogLevel.InfoLevel,
        LogLevel.Warning => Akka.Event.LogLevel.WarningLevel,
        _ => Akka.Event.LogLevel.ErrorLevel,
    };
}

public static class LogLevelSwitchRegistration
{
    public static AkkaConfigurationBuilder AddLogLevelSwitch(this AkkaConfigurationBuilder akka, LogLevelSwitch levels) =>
        akka.WithActors((system, _) => levels.Attach(system));
}
