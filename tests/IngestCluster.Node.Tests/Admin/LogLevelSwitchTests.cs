using IngestCluster.Node.Admin;
using Microsoft.Extensions.Logging;

namespace IngestCluster.Node.Tests.Admin;

public sealed class LogLevelSwitchTests
{
    [Theory]
    [InlineData("debug", LogLevel.Debug)]
    [InlineData("Information", LogLevel.Information)]
    [InlineData("info", LogLevel.Information)]
    [InlineData("WARN", LogLevel.Warning)]
    [InlineData(" error ", LogLevel.Error)]
    [InlineData("critical", LogLevel.Critical)]
    public void Level_names_parse_case_insensitively(string text, LogLevel expected)
    {
        Assert.True(LogLevelSwitch.TryParseLevel(text, out var level));
        Assert.Equal(expected, level);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("2")]
    [InlineData("loud")]
    [InlineData("")]
    public void Other_words_and_numbers_are_refused(string text) => Assert.False(LogLevelSwitch.TryParseLevel(text, out _));

    [Fact]
    public void The_switch_filters_below_its_level_and_asp_net_request_lines_below_debug()
    {
        var levels = new LogLevelSwitch(LogLevel.Information);
        Assert.False(levels.IsEnabled("IngestCluster.Node", LogLevel.Debug));
        Assert.True(levels.IsEnabled("IngestCluster.Node", LogLevel.Information));
        Assert.False(levels.IsEnabled("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Information));
        Assert.True(levels.IsEnabled("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Warning));
        levels.Set(LogLevel.Debug);
        Assert.True(levels.IsEnabled("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Information));
        Assert.True(levels.IsEnabled("IngestCluster.Node", LogLevel.Debug));
        Assert.False(levels.IsEnabled("IngestCluster.Node", LogLevel.Trace));
    }
}
