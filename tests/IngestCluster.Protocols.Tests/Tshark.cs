using System.Diagnostics;

namespace IngestCluster.Protocols.Tests;

/// <summary>
/// Runs tshark (Wireshark 4.0, installed here and in CI) on packets we encoded, so a test can check that an
/// independent decoder reads back the fields we set. Packets are raw IP (IPv4 or IPv6), written with
/// <see cref="PcapWriter"/> to a temporary file that is deleted afterwards.
/// </summary>
public static class Tshark
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs <c>tshark -r &lt;pcap&gt; args…</c> and returns its standard output. Fails the test, clearly,
    /// when tshark is missing, exits non-zero or takes longer than a minute.</summary>
    public static string Run(IEnumerable<byte[]> ipPackets, params string[] args)
    {
        var path = Path.Combine(Path.GetTempPath(), $"ingestcluster-tshark-{Guid.NewGuid():N}.pcap");
        try
        {
            using (var writer = new PcapWriter(path))
            {
                foreach (var packet in ipPackets)
                {
                    writer.Write(packet);
                }
            }
            var start = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("-r");
            start.ArgumentList.Add(path);
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }
            Process process;
            try
            {
                process = Process.Start(start) ?? throw new InvalidOperationException("tshark did not start");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                Assert.Fail($"tshark is not installed or not on PATH ({e.Message}); install it with `apt-get install tshark`");
                throw;
            }
            using (process)
            {
                var stdout = process.StandardOutput.ReadToEndAsync();
                var stderr = process.StandardError.ReadToEndAsync();
                if (!process.WaitForExit(Timeout))
                {
                    process.Kill();
                    Assert.Fail($"tshark {string.Join(' ', args)} took longer than {Timeout}");
                }
                process.WaitForExit();
                if (process.ExitCode != 0)
                {
                    Assert.Fail($"tshark {string.Join(' ', args)} exited with {process.ExitCode}: {stderr.Result}");
                }
                return stdout.Result;
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>One row per packet, one string per field (<c>-T fields -E occurrence=a</c>: repeated fields are
    /// joined with commas), in the order of <paramref name="fields"/>. <paramref name="args"/> go before the fields,
    /// for preferences such as <c>-o ip.check_checksum:TRUE</c>.</summary>
    public static IReadOnlyList<Dictionary<string, string>> Fields(IEnumerable<byte[]> ipPackets, IReadOnlyList<string> fields, params string[] args)
    {
        var arguments = new List<string>(args) { "-T", "fields", "-E", "separator=|", "-E", "occurrence=a" };
        foreach (var field in fields)
        {
            arguments.Add("-e");
            arguments.Add(field);
        }
        var output = Run(ipPackets, [.. arguments]);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.TrimEnd('\r').Split('|'))
            .Select(values => fields.Select((f, i) => (f, v: i < values.Length ? values[i] : "")).ToDictionary(x => x.f, x => x.v))
            .ToList();
    }
}
