using System.Text.Json;

namespace IngestCluster.Lab.Tests;

/// <summary>The lab source and receiver as real processes on the two ends of a veth (iclab-*, 10.203.5.0/24).</summary>
public sealed class SourceReceiverTests : IDisposable
{
    private const string Group = "232.5.5.5";
    private const string SourceAddress = "10.203.5.1";
    private readonly LabNetwork _network = new();
    private readonly string _sourceNs;
    private readonly string _receiverNs;
    private readonly string _sourceIf;
    private readonly string _receiverIf;

    public SourceReceiverTests()
    {
        try
        {
            _sourceNs = _network.AddNamespace("src");
            _receiverNs = _network.AddNamespace("rcv");
            (_sourceIf, _receiverIf) = _network.Link(_sourceNs, SourceAddress, _receiverNs, "10.203.5.2", "sr");
        }
        catch
        {
            _network.Dispose();
            throw;
        }
    }

    public void Dispose() => _network.Dispose();

    [Fact]
    public void Receiver_counts_the_sources_packets_and_on_sigterm_leaves_and_prints_a_summary()
    {
        using var source = StartSource();
        using var receiver = new LabProcess(_receiverNs, "receiver", "--source", SourceAddress, "--group", Group, "--port", "5005",
            "--interface", _receiverIf, "--expect-rate", "200", "--linger", "300ms", "--status-interval", "200ms");

        receiver.WaitFor("status", l => l.GetProperty("received").GetInt64() >= 100, TimeSpan.FromSeconds(30));
        Assert.Equal(0, receiver.Stop());

        var summary = Assert.Single(receiver.Events("summary"));
        Assert.Single(receiver.Events("left"));
        Assert.True(summary.GetProperty("left").GetBoolean());
        Assert.True(summary.GetProperty("received").GetInt64() >= 100);
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(0, summary.GetProperty("duplicates").GetInt64());
        Assert.Equal(0, summary.GetProperty("malformed").GetInt64());
        Assert.Equal(JsonValueKind.Number, summary.GetProperty("firstPacketMs").ValueKind);
        Assert.InRange(summary.GetProperty("rateRatio").GetDouble(), 0.8, 1.2);

        Assert.Equal(0, source.Stop());
        var sent = Assert.Single(source.Events("summary")).GetProperty("sent").GetInt64();
        Assert.True(sent >= summary.GetProperty("highestSequence").GetInt64() + 1);
    }

    [Fact]
    public void Receiver_leaves_after_the_given_time_and_then_sees_no_more_packets()
    {
        using var source = StartSource();
        using var receiver = new LabProcess(_receiverNs, "receiver", "--source", SourceAddress, "--group", Group, "--port", "5005",
            "--interface", _receiverIf, "--leave-after", "1500ms", "--linger", "1s", "--duration", "20s", "--status-interval", "250ms");

        Assert.Equal(0, receiver.WaitForExit(TimeSpan.FromSeconds(30)));

        var summary = Assert.Single(receiver.Events("summary"));
        Assert.True(summary.GetProperty("received").GetInt64() > 0);
        // At most what was already queued in the socket when the membership was dropped.
        Assert.InRange(summary.GetProperty("receivedAfterLeave").GetInt64(), 0, 2);
        var left = receiver.Lines.Select((l, i) => (l, i)).Single(x => x.l.GetProperty("event").GetString() == "left").i;
        var lastStatus = receiver.Lines.Skip(left).Last(l => l.GetProperty("event").GetString() == "status");
        Assert.False(lastStatus.GetProperty("joined").GetBoolean());
        Assert.Equal(0, lastStatus.GetProperty("receivedSinceLastStatus").GetInt64());
    }

    [Fact]
    public void Source_with_a_count_sends_exactly_that_many_then_exits()
    {
        using var source = new LabProcess(_sourceNs, "source", "--group", Group, "--port", "5005", "--bind", SourceAddress,
            "--rate", "1000", "--count", "250", "--size", "64");

        Assert.Equal(0, source.WaitForExit(TimeSpan.FromSeconds(30)));

        var summary = Assert.Single(source.Events("summary"));
        Assert.Equal(250, summary.GetProperty("sent").GetInt64());
        Assert.Equal(0, summary.GetProperty("sendErrors").GetInt64());
    }

    private LabProcess StartSource()
    {
        var source = new LabProcess(_sourceNs, "source", "--group", Group, "--port", "5005", "--interface", _sourceIf,
            "--rate", "200", "--size", "300");
        source.WaitFor("started", timeout: TimeSpan.FromSeconds(30));
        return source;
    }
}
