using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DnsClient;

namespace IngestCluster.IntegrationTests.Dns;

/// <summary>What starting a DNS server for a test takes, whichever server it is.</summary>
internal static partial class DnsServerProcess
{
    /// <summary>A loopback port free for both UDP and TCP (DNS servers bind both).</summary>
    public static int FreePort()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            try
            {
                using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("no free loopback port for a DNS server");
    }

    /// <summary>Polls an SOA query for <paramref name="zone"/> until the server answers it, the process exits, or
    /// the deadline passes. Each failed query waits its own timeout, so there is no extra sleep.</summary>
    public static void WaitUntilAnswering(IPEndPoint server, string zone, TimeSpan within, Process process, Func<string> log)
    {
        var client = new LookupClient(new LookupClientOptions(server)
        {
            Timeout = TimeSpan.FromMilliseconds(250),
            Retries = 0,
            UseCache = false,
            ThrowDnsErrors = false,
        });
        var deadline = DateTime.UtcNow + within;
        string last = "no answer yet";
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{process.StartInfo.FileName} exited with code {process.ExitCode}:\n{log()}");
            }
            try
            {
                var response = client.Query(zone, QueryType.SOA);
                if (!response.HasError && response.Answers.SoaRecords().Any())
                {
                    return;
                }
                last = response.ErrorMessage;
            }
            catch (DnsResponseException e)
            {
                last = e.Message;
            }
        }
        throw new TimeoutException($"{process.StartInfo.FileName} did not answer SOA {zone} within {within} ({last}):\n{log()}");
    }

    /// <summary>Starts <paramref name="file"/> with its output collected into <paramref name="log"/>.</summary>
    public static Process Start(string file, IEnumerable<string> arguments, System.Text.StringBuilder log)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return process;
    }

    /// <summary>Stops a server we started, by its PID: SIGTERM so it takes its worker processes down with it (NSD
    /// forks), then SIGKILL to the whole tree if it has not gone within a few seconds.</summary>
    public static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                _ = Kill(process.Id, SigTerm);
                if (!process.WaitForExit(5_000))
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        process.Dispose();
    }

    private const int SigTerm = 15;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
