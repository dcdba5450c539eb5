using System.Text;
using IngestCluster.Admin.Contracts;
using IngestCluster.IntegrationTests.Cluster;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace IngestCluster.IntegrationTests.Admin;

/// <summary>
/// The status page at <c>/</c> in Debian's headless Chromium (driven by Playwright, pointed at /usr/bin/chromium: no
/// browser download), against a whole node whose joinfile demands three 4 Mbit/s flows under a 10 Mbit/s limit: the
/// page shows the member, the budget bar, two admitted flows and one blocked for OverLimit; then the limit is lowered
/// over the admin API and the page, polling by itself, shows one admitted flow blocked too. Screenshots of both go to
/// the test output directory (screenshots/).
/// </summary>
public sealed class StatusPageBrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";

    // LAB.md: the flags Chromium needs as root in this closed network (Playwright adds --no-sandbox with
    // ChromiumSandbox = false, and a new, empty profile of its own).
    private static readonly string[] ChromiumArgs =
        ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

    private const string SourceAddress = "198.51.100.12";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("icop-page-").FullName;
    private AdminNode? _node;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public static string ScreenshotDirectory => Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        string joinfile = Path.Combine(_directory, "joinfile.csv");
        await File.WriteAllTextAsync(joinfile, $"{SourceAddress},232.1.1.1,50\n{SourceAddress},232.1.1.2,20\n{SourceAddress},232.1.1.3\n");
        _node = await AdminNode.Start(_directory, [], InProcessNode.FreePort(), InProcessNode.FreePort(), new Dictionary<string, string?>
        {
            ["Demand:Joinfile"] = joinfile,
            ["Budget:Limit"] = "10Mbps",
            ["Budget:DefaultBitrate"] = "4Mbps",
            ["Budget:Metadata:Enabled"] = "false",
            ["Budget:MetadataWait"] = "0s",
        });
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: scripts/install-test-deps.sh installs Debian's chromium");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            ChromiumSandbox = false,
            Args = ChromiumArgs,
            Timeout = 60_000,
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }
        _playwright?.Dispose();
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_page_shows_members_budget_and_flows_and_follows_a_limit_change_by_itself()
    {
        var page = await _browser!.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        var console = new StringBuilder();
        page.Console += (_, message) => console.AppendLine($"{message.Type}: {message.Text}");
        page.PageError += (_, error) => console.AppendLine($"page error: {error}");
        var response = await page.GotoAsync($"http://{_node!.AdminEndpoint}/");
        Assert.True(response?.Ok, $"GET / answered {response?.Status}");

        try
        {
            // The member: this node, Up.
            await Expect(page.Locator("#members tbody tr", new() { HasText = _node.Address })).ToContainTextAsync("Up", new() { Timeout = Ms(Deadline) });

            // Two admitted, one blocked for the limit, with the reason; the bar at 80 %.
            var first = Flow(page, "232.1.1.1");
            var second = Flow(page, "232.1.1.2");
            var third = Flow(page, "232.1.1.3");
            await Expect(first).ToContainTextAsync("admitted", new() { Timeout = Ms(Deadline) });
            await Expect(second).ToContainTextAsync("admitted", new() { Timeout = Ms(Deadline) });
            await Expect(third).ToContainTextAsync("blocked", new() { Timeout = Ms(Deadline) });
            await Expect(third).ToContainTextAsync("OverLimit");
            await Expect(first.Locator("td").Nth(5)).ToHaveTextAsync("4Mbps");
            await Expect(page.Locator("#budget-text")).ToContainTextAsync("8Mbps of 10Mbps");
            Assert.Equal("80", await page.Locator("#budget-bar").GetAttributeAsync("aria-valuenow"));
            // The admitted flows' source state comes from its entity (no relay for a documentation address here).
            string state = (await first.Locator("td").Nth(3).TextContentAsync())?.Trim() ?? "";
            Assert.False(string.IsNullOrEmpty(state) || state == "–" || state == "unknown", $"flow state '{state}'");
            await Expect(page.Locator("#error")).ToHaveTextAsync("");
            await Screenshot(page, "status-page-admitted.png");

            // Lower the limit to one flow's worth: the page, polling on its own, shows a second flow blocked.
            using (var http = _node.Http())
            {
                using var set = await http.PostAsync(AdminRoutes.BudgetLimit, new StringContent("4Mbps", Encoding.UTF8, "text/plain"));
                Assert.True(set.IsSuccessStatusCode, await set.Content.ReadAsStringAsync());
            }
            await Expect(page.Locator("#flows tbody tr[data-decision='blocked']")).ToHaveCountAsync(2, new() { Timeout = Ms(Deadline) });
            await Expect(page.Locator("#flows tbody tr[data-decision='admitted']")).ToHaveCountAsync(1);
            await Expect(page.Locator("#budget-text")).ToContainTextAsync("4Mbps of 4Mbps", new() { Timeout = Ms(Deadline) });
            await Expect(page.Locator("#budget-text")).ToContainTextAsync("limit from admin");
            Assert.Equal("100", await page.Locator("#budget-bar").GetAttributeAsync("aria-valuenow"));
            // Which one went is the policy's choice; the one that went says why.
            var dropped = page.Locator($"#flows tbody tr[data-decision='blocked']:not([data-key='{SourceAddress} 232.1.1.3'])");
            await Expect(dropped).ToContainTextAsync("limit");
            await Screenshot(page, "status-page-limit-lowered.png");
        }
        finally
        {
            output.WriteLine(console.ToString());
        }
        Assert.DoesNotContain("page error", console.ToString(), StringComparison.Ordinal);
    }

    private static ILocator Flow(IPage page, string group) => page.Locator($"#flows tbody tr[data-key='{SourceAddress} {group}']");

    private async Task Screenshot(IPage page, string name)
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        string path = Path.Combine(ScreenshotDirectory, name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    private static float Ms(TimeSpan span) => (float)span.TotalMilliseconds;
}
