namespace IngestCluster.Lab.Tests;

public sealed class LabArgumentsTests
{
    private static readonly HashSet<string> Values = ["group", "duration", "rate"];
    private static readonly HashSet<string> Flags = ["limited-capacity"];

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("1.5", 1_500)]
    public void Durations_take_a_unit_or_default_to_seconds(string text, int milliseconds)
    {
        var args = LabArguments.Parse(["--duration", text], Values, Flags);

        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), args.Duration("duration"));
    }

    [Theory]
    [InlineData(new[] { "--nope", "1" }, "unknown option --nope")]
    [InlineData(new[] { "--rate" }, "option --rate needs a value")]
    [InlineData(new[] { "--rate", "1", "--rate", "2" }, "option --rate given twice")]
    [InlineData(new[] { "--limited-capacity=yes" }, "option --limited-capacity takes no value")]
    [InlineData(new[] { "stray" }, "unexpected argument 'stray'")]
    public void Bad_command_lines_name_the_offending_option(string[] args, string message)
    {
        var error = Assert.Throws<UsageException>(() => LabArguments.Parse(args, Values, Flags));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Group_outside_the_multicast_range_is_a_usage_error()
    {
        var args = LabArguments.Parse(["--group=10.0.0.1"], Values, Flags);

        var error = Assert.Throws<UsageException>(() => args.RequiredMulticast("group"));
        Assert.Contains("multicast", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Relay_listen_without_a_port_uses_2268_and_0_0_0_0_needs_an_advertised_address()
    {
        var settings = RelayCommand.Parse(["--listen", "10.203.2.1", "--upstream-interface", "eth0", "--secret", "0a0b"]);
        Assert.Equal(2268, settings.Listen.Port);
        Assert.Equal([0x0a, 0x0b], settings.Secret);
        Assert.Equal(20, settings.Qqic);
        Assert.Equal(2, settings.Qrv);

        var error = Assert.Throws<UsageException>(() => RelayCommand.Parse(["--listen", "0.0.0.0:3000", "--upstream-interface", "eth0"]));
        Assert.Contains("--advertise", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lab_executable_prints_usage_and_exits_2_on_a_bad_argument()
    {
        using var process = new LabProcess(null, "receiver", "--source", "10.0.0.1", "--group", "232.1.1.1", "--port", "99999", "--interface", "lo");

        Assert.Equal(2, process.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("option --port expects an integer from 1 to 65535", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("usage: IngestCluster.Lab receiver", process.StandardError, StringComparison.Ordinal);
        Assert.Empty(process.Lines);
    }
}
