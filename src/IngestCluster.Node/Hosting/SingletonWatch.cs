using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Hosting;

namespace IngestCluster.Node.Hosting;

/// <summary>
/// Whether a cluster singleton has answered lately, as a pure state: fed each identification attempt's outcome, it says
/// when to warn (no answer for <see cref="Period"/> since the watch began or since the last answer) and when to say it
/// is found again. One warning per outage.
/// </summary>
public sealed record SingletonWatch(TimeSpan Period, DateTimeOffset LastAnswer, bool Warned)
{
    public enum Effect { None, WarnMissing, Found }

    public static SingletonWatch Start(TimeSpan period, DateTimeOffset now) => new(period, now, Warned: false);

    public (SingletonWatch Next, Effect Effect) Observe(bool answered, DateTimeOffset now)
    {
        if (answered)
        {
            return (this with { LastAnswer = now, Warned = false }, Warned ? Effect.Found : Effect.None);
        }
        if (!Warned && now - LastAnswer >= Period)
        {
            return (this with { Warned = true }, Effect.WarnMissing);
        }
        return (this, Effect.None);
    }
}

/// <summary>
/// Looks for the budget singleton where its proxy would (the oldest Up member with the singleton's role) every few
/// seconds, and warns only when it has been missing for the whole period. This replaces Akka's own proxy warning
/// (<c>log-singleton-identification-failure = off</c> in cluster.conf): in Akka.Cluster.Tools 1.5.73 the proxy's
/// failure timer is periodic with a zero initial delay, so its first tick fires as the proxy starts, before any
/// singleton could be identified, and logs "failed to find an associated singleton … after 30 seconds" on every start
/// (and on every change of oldest member), however healthy the cluster.
/// </summary>
public sealed class SingletonWatchActor : ReceiveActor, IWithTimers
{
    private readonly string _singletonPath;
    private readonly string _role;
    private readonly TimeProvider _clock;
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(SingletonWatchActor));
    private SingletonWatch _watch;
    private int _attempt;
    private bool _pending;

    public SingletonWatchActor(string singletonPath, string role, TimeSpan period, TimeSpan interval, TimeProvider clock)
    {
        _singletonPath = singletonPath;
        _role = role;
        _clock = clock;
        _watch = SingletonWatch.Start(period, clock.GetUtcNow());
        Receive<Tick>(_ => Look());
        Receive<ActorIdentity>(identity =>
        {
            if (_pending && identity.MessageId is int attempt && attempt == _attempt)
            {
                _pending = false;
                Apply(identity.Subject is not null, identity.Subject?.Path.ToString());
            }
        });
        Timers!.StartPeriodicTimer("look", Tick.Instance, TimeSpan.FromSeconds(1), interval);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private void Look()
    {
        // An attempt not answered by the next look counts as a miss (a remote member that is gone answers nothing).
        if (_pending)
        {
            Apply(false, null);
        }
        _attempt++;
        var oldest = Cluster.Get(Context.System).State.Members
            .Where(m => m.Status == MemberStatus.Up && m.HasRole(_role))
            .OrderBy(m => m, Member.AgeOrdering)
            .FirstOrDefault();
        _pending = oldest is not null;
        if (oldest is null)
        {
            Apply(false, null);
            return;
        }
        Context.ActorSelection(new RootActorPath(oldest.Address) / _singletonPath.Trim('/').Split('/')).Tell(new Identify(_attempt));
    }

    private void Apply(bool answered, string? at)
    {
        var (next, effect) = _watch.Observe(answered, _clock.GetUtcNow());
        _watch = next;
        switch (effect)
        {
            case SingletonWatch.Effect.WarnMissing:
                NodeLog.SingletonMissing(_logger, _singletonPath, _role, next.Period.TotalSeconds);
                break;
            case SingletonWatch.Effect.Found:
                NodeLog.SingletonFound(_logger, (at ?? _singletonPath).ToString() ?? "");
                break;
        }
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

}

public static class SingletonWatchRegistration
{
    /// <summary>Watches the budget singleton (<c>/user/budget/budget</c>, role <see cref="IngestAkka.Role"/>).</summary>
    public static AkkaConfigurationBuilder AddBudgetSingletonWatch(this AkkaConfigurationBuilder akka, TimeProvider clock) =>
        akka.WithActors((system, _) => system.ActorOf(Props.Create(() =>
            new SingletonWatchActor("/user/budget/budget", IngestAkka.Role, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), clock)), "budget-watch"));
}
