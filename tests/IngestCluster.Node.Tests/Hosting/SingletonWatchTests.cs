using IngestCluster.Node.Hosting;

namespace IngestCluster.Node.Tests.Hosting;

public sealed class SingletonWatchTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.UnixEpoch;
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(30);

    [Fact]
    public void Misses_within_the_period_after_start_do_not_warn()
    {
        var watch = SingletonWatch.Start(Period, T0);
        for (int s = 0; s < 30; s += 5)
        {
            (watch, var effect) = watch.Observe(answered: false, T0.AddSeconds(s));
            Assert.Equal(SingletonWatch.Effect.None, effect);
        }
    }

    [Fact]
    public void A_singleton_missing_for_the_whole_period_warns_once_then_its_return_is_told()
    {
        var watch = SingletonWatch.Start(Period, T0);
        (watch, var effect) = watch.Observe(false, T0.AddSeconds(30));
        Assert.Equal(SingletonWatch.Effect.WarnMissing, effect);
        (watch, effect) = watch.Observe(false, T0.AddSeconds(65));
        Assert.Equal(SingletonWatch.Effect.None, effect);
        (watch, effect) = watch.Observe(true, T0.AddSeconds(70));
        Assert.Equal(SingletonWatch.Effect.Found, effect);
        (_, effect) = watch.Observe(true, T0.AddSeconds(75));
        Assert.Equal(SingletonWatch.Effect.None, effect);
    }

    [Fact]
    public void The_period_counts_from_the_last_answer()
    {
        var watch = SingletonWatch.Start(Period, T0);
        (watch, _) = watch.Observe(true, T0.AddSeconds(20));
        (watch, var effect) = watch.Observe(false, T0.AddSeconds(45));
        Assert.Equal(SingletonWatch.Effect.None, effect);
        (_, effect) = watch.Observe(false, T0.AddSeconds(50));
        Assert.Equal(SingletonWatch.Effect.WarnMissing, effect);
    }
}
