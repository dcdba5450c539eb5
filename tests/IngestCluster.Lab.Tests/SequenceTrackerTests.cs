namespace IngestCluster.Lab.Tests;

public sealed class SequenceTrackerTests
{
    [Fact]
    public void In_order_stream_from_any_start_has_no_loss()
    {
        var tracker = new SequenceTracker();
        for (ulong s = 500; s < 600; s++)
        {
            tracker.Observe(s);
        }

        Assert.Equal(100, tracker.Received);
        Assert.Equal(0, tracker.Lost);
        Assert.Equal(500UL, tracker.FirstSequence);
        Assert.Equal(599UL, tracker.HighestSequence);
    }

    [Fact]
    public void Gap_counts_as_loss_until_a_late_packet_fills_it_as_reordered()
    {
        var tracker = new SequenceTracker();
        foreach (var s in new ulong[] { 0, 1, 4, 5 })
        {
            tracker.Observe(s);
        }
        Assert.Equal(2, tracker.Lost);
        Assert.Equal(2.0 / 6, tracker.LossRatio, 6);

        tracker.Observe(2);

        Assert.Equal(1, tracker.Lost);
        Assert.Equal(1, tracker.Reordered);
    }

    [Fact]
    public void Repeated_sequence_is_a_duplicate_and_not_counted_twice()
    {
        var tracker = new SequenceTracker();
        foreach (var s in new ulong[] { 0, 1, 1, 2, 0 })
        {
            tracker.Observe(s);
        }

        Assert.Equal(5, tracker.Received);
        Assert.Equal(3, tracker.Distinct);
        Assert.Equal(2, tracker.Duplicates);
        Assert.Equal(0, tracker.Lost);
    }

    [Fact]
    public void Sequence_older_than_the_window_is_stale()
    {
        var tracker = new SequenceTracker();
        tracker.Observe(10);
        tracker.Observe(10 + SequenceTracker.Window + 5);
        tracker.Observe(11);
        tracker.Observe(9);

        Assert.Equal(2, tracker.Stale);
        Assert.Equal(0, tracker.Duplicates);
    }

    [Fact]
    public void Window_slot_reused_after_sliding_is_not_mistaken_for_a_duplicate()
    {
        var tracker = new SequenceTracker();
        tracker.Observe(0);
        tracker.Observe(2);
        tracker.Observe((ulong)SequenceTracker.Window + 1); // slides past 1, whose slot is (Window + 1) % Window
        tracker.Observe((ulong)SequenceTracker.Window);     // slot 0 was used by sequence 0

        Assert.Equal(0, tracker.Duplicates);
        Assert.Equal(1, tracker.Reordered);
    }
}
