using CsCheck;
using IngestCluster.Node.Budget;

namespace IngestCluster.Node.Tests.Budget;

public class BitrateTests
{
    [Theory]
    [InlineData("2Gbps", 2_000_000_000L)]
    [InlineData("500Mbps", 500_000_000L)]
    [InlineData("64kbps", 64_000L)]
    [InlineData("1000bps", 1_000L)]
    [InlineData("0bps", 0L)]
    [InlineData("1.5Gbps", 1_500_000_000L)]
    [InlineData(" 10Mbps ", 10_000_000L)]
    [InlineData("9223372036854775807bps", long.MaxValue)]
    public void Units_are_decimal_SI(string text, long bitsPerSecond)
    {
        Assert.True(Bitrate.TryParse(text, out var value, out var error), error);
        Assert.Equal(bitsPerSecond, value.BitsPerSecond);
        Assert.Equal("", error);
    }

    [Theory]
    [InlineData("1000")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("Gbps")]
    [InlineData("-5Mbps")]
    [InlineData("2gbps")]
    [InlineData("2GBPS")]
    [InlineData("2Kbps")]
    [InlineData("2mbps")]
    [InlineData("2MiBps")]
    [InlineData("2Mb")]
    [InlineData("0.5bps")]
    [InlineData("1.0005kbps")]
    [InlineData("1e3bps")]
    [InlineData("9223372036854775808bps")]
    [InlineData("99999999999999999999Gbps")]
    public void Bad_text_is_refused_with_a_reason(string? text)
    {
        Assert.False(Bitrate.TryParse(text, out var value, out var error));
        Assert.Equal(default, value);
        Assert.NotEqual("", error);
    }

    [Fact]
    public void A_number_without_a_unit_is_refused_and_the_error_names_the_units()
    {
        Assert.False(Bitrate.TryParse("1000", out _, out var error));
        Assert.Contains("bps, kbps, Mbps, Gbps", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2_000_000_000L, "2Gbps")]
    [InlineData(1_500_000_000L, "1500Mbps")]
    [InlineData(64_000L, "64kbps")]
    [InlineData(1_001L, "1001bps")]
    [InlineData(0L, "0bps")]
    [InlineData(10_000_000_000L, "10Gbps")]
    public void ToString_gives_the_shortest_exact_form(long bitsPerSecond, string text) =>
        Assert.Equal(text, new Bitrate(bitsPerSecond).ToString());

    [Fact]
    public void ToString_reads_back_as_the_same_rate_for_any_rate()
    {
        Gen.Long[0, long.MaxValue].Sample(bits =>
        {
            var rate = new Bitrate(bits);
            Assert.True(Bitrate.TryParse(rate.ToString(), out var back, out var error), error);
            Assert.Equal(rate, back);
        }, iter: 10_000);
    }

    [Fact]
    public void A_negative_rate_cannot_be_made() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Bitrate(-1));

    [Fact]
    public void Rates_compare_and_add_by_their_bits_per_second()
    {
        var small = new Bitrate(500_000_000);
        var large = new Bitrate(2_000_000_000);

        Assert.True(small < large);
        Assert.True(large > small);
        Assert.True(small <= new Bitrate(500_000_000));
        Assert.True(large >= small);
        Assert.False(large < small);
        Assert.False(small > large);
        Assert.True(small.CompareTo(large) < 0);
        Assert.Equal(new Bitrate(2_500_000_000), small + large);
        Assert.Equal(new Bitrate(2_500_000_000), small.Add(large));
        Assert.Equal(new Bitrate(1_500_000_000), large - small);
        Assert.Equal(new Bitrate(1_500_000_000), large.Subtract(small));
    }

    [Fact]
    public void Arithmetic_that_leaves_the_range_is_a_bug_and_throws()
    {
        Assert.Throws<OverflowException>(() => new Bitrate(long.MaxValue) + new Bitrate(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Bitrate(1) - new Bitrate(2));
    }
}
