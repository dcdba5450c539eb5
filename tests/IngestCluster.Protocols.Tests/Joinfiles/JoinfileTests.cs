using System.Net;
using IngestCluster.Protocols.Joinfiles;

namespace IngestCluster.Protocols.Tests.Joinfiles;

public class JoinfileTests
{
    [Fact]
    public void Lines_with_and_without_population_comments_and_blanks_are_read()
    {
        const string text = "# joins for node a\n\n  23.212.185.5 , 232.1.1.1  \n23.212.185.4,232.10.10.1,17 # popular\r\n\t\n2001:db8::4,ff3e::8000:1,0\n";
        var content = Joinfile.Parse(text);
        Assert.Empty(content.Errors);
        Assert.Equal(
            [
                new JoinfileEntry(IPAddress.Parse("23.212.185.5"), IPAddress.Parse("232.1.1.1")),
                new JoinfileEntry(IPAddress.Parse("23.212.185.4"), IPAddress.Parse("232.10.10.1"), 17),
                new JoinfileEntry(IPAddress.Parse("2001:db8::4"), IPAddress.Parse("ff3e::8000:1"), 0),
            ],
            content.Entries.ToArray());
    }

    [Fact]
    public void A_bad_line_is_reported_by_number_and_the_good_lines_are_kept()
    {
        const string text = "23.212.185.5,232.1.1.1\n\n23.212.185.5,10.1.1.1\n23.212.185.6,232.1.1.2\n";
        var content = Joinfile.Parse(text);
        Assert.Equal(["23.212.185.5,232.1.1.1", "23.212.185.6,232.1.1.2"], content.Entries.Select(e => e.ToString()));
        var error = Assert.Single(content.Errors);
        Assert.Equal("line 3: group 10.1.1.1 is not a multicast address", error.ToString());
    }

    [Theory]
    [InlineData("23.212.185.5", "needs at least source,group")]
    [InlineData("23.212.185.5,232.1.1.1,3,4", "more than 3 fields")]
    [InlineData("nonsense,232.1.1.1", "source 'nonsense' is not an IP address")]
    [InlineData("23.212.185.5,", "group '' is not an IP address")]
    [InlineData("10.1,232.1.1.1", "source '10.1' is not an IP address")]
    [InlineData("232.1.1.9,232.1.1.1", "source 232.1.1.9 is not a unicast address")]
    [InlineData("0.0.0.0,232.1.1.1", "source 0.0.0.0 is not a unicast address")]
    [InlineData("2001:db8::4,232.1.1.1", "different address families")]
    [InlineData("23.212.185.5,232.1.1.1,-3", "population '-3' is not a whole number")]
    [InlineData("23.212.185.5,232.1.1.1,many", "population 'many' is not a whole number")]
    public void Each_kind_of_bad_line_says_what_is_wrong(string line, string expected)
    {
        var content = Joinfile.Parse("# header\n" + line + "\n");
        Assert.Empty(content.Entries);
        var error = Assert.Single(content.Errors);
        Assert.Equal(2, error.Line);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Format_and_parse_round_trip()
    {
        JoinfileEntry[] entries =
        [
            new(IPAddress.Parse("23.212.185.5"), IPAddress.Parse("232.1.1.1")),
            new(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.2"), 42),
        ];
        string text = Joinfile.Format(entries);
        Assert.Equal("23.212.185.5,232.1.1.1\n198.51.100.12,232.1.1.2,42\n", text);
        var content = Joinfile.Parse(text);
        Assert.Empty(content.Errors);
        Assert.Equal(entries, content.Entries);
    }

    [Fact]
    public void Atomic_write_replaces_the_file_and_leaves_no_temporary_behind()
    {
        string directory = Directory.CreateTempSubdirectory("ic-joinfile-").FullName;
        try
        {
            string path = Path.Combine(directory, "joins.csv");
            File.WriteAllText(path, "old content\n");
            Joinfile.WriteAtomically(path, [new(IPAddress.Parse("23.212.185.5"), IPAddress.Parse("232.1.1.1"), 3)]);
            Assert.Equal("23.212.185.5,232.1.1.1,3\n", File.ReadAllText(path));
            Assert.Equal(["joins.csv"], Directory.GetFiles(directory).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Readers_during_many_atomic_writes_never_see_a_partial_file()
    {
        string directory = Directory.CreateTempSubdirectory("ic-joinfile-").FullName;
        try
        {
            string path = Path.Combine(directory, "joins.csv");
            var entries = Enumerable.Range(1, 200)
                .Select(i => new JoinfileEntry(IPAddress.Parse($"10.0.{i / 250}.{(i % 250) + 1}"), IPAddress.Parse("232.1.1.1"), i))
                .ToArray();
            string expected = Joinfile.Format(entries);
            Joinfile.WriteAtomically(path, entries);
            int reads = 0;
            int writes = 0;
            using var stop = new CancellationTokenSource();
            var reader = Task.Run(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    Assert.Equal(expected, File.ReadAllText(path));
                    Interlocked.Increment(ref reads);
                }
            });
            // Write until the reader has overlapped a good number of writes, with a deadline.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while ((writes < 200 || Volatile.Read(ref reads) < 200) && DateTime.UtcNow < deadline && !reader.IsCompleted)
            {
                Joinfile.WriteAtomically(path, entries);
                writes++;
            }
            stop.Cancel();
            await reader;
            Assert.True(reads >= 200, $"only {reads} reads overlapped {writes} writes");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
