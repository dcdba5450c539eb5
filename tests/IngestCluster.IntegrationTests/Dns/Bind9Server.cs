using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using DnsClient;

namespace IngestCluster.IntegrationTests.Dns;

/// <summary>
/// A real bind9 <c>named</c>, authoritative only, on 127.0.0.1 and a free port, serving zone files from a temporary
/// directory. Started in the constructor (ready when it returns: a query has been answered), stopped by its PID
/// in <see cref="Dispose"/>, directory removed.
/// </summary>
internal sealed class Bind9Server : IDisposable
{
    private readonly Process _named;
    private readonly StringBuilder _log = new();

    public Bind9Server(IReadOnlyDictionary<string, string> zones, TimeSpan readyWithin)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("ic-dns-bind9-").FullName;
        Port = FreePort();
        var conf = new StringBuilder();
        conf.Append(System.Globalization.CultureInfo.InvariantCulture, $$"""
            options {
              directory "{{Directory}}";
              listen-on port {{Port}} { 127.0.0.1; };
              listen-on-v6 { none; };
              pid-file "{{Directory}}/named.pid";
              session-keyfile "{{Directory}}/session.key";
              managed-keys-directory "{{Directory}}";
              recursion no;
              dnssec-validation no;
              notify no;
              allow-transfer { none; };
            };
            controls { };

            """);
        int n = 0;
        foreach (var (origin, text) in zones)
        {
            string file = $"zone{n++}.db";
            File.WriteAllText(Path.Combine(Directory, file), text);
            conf.Append(System.Globalization.CultureInfo.InvariantCulture, $"zone \"{origin}\" {{ type primary; file \"{file}\"; }};\n");
        }
        string confPath = Path.Combine(Directory, "named.conf");
        File.WriteAllText(confPath, conf.ToString());

        var start = new ProcessStartInfo("/usr/sbin/named")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-g", "-n", "1", "-c", confPath })
        {
            start.ArgumentList.Add(arg);
        }
        _named = Process.Start(start) ?? throw new InvalidOperationException("named did not start");
        _named.ErrorDataReceived += (_, e) => { lock (_log) { _log.AppendLine(e.Data); } };
        _named.OutputDataReceived += (_, e) => { lock (_log) { _log.AppendLine(e.Data); } };
        _named.BeginErrorReadLine();
        _named.BeginOutputReadLine();

        try
        {
            WaitUntilReady(zones.Keys.First(), readyWithin);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Directory { get; }

    public int Port { get; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Polls an SOA query for <paramref name="zone"/> until named answers it, or the deadline passes.</summary>
    private void WaitUntilReady(string zone, TimeSpan within)
    {
        var client = new LookupClient(new LookupClientOptions(EndPoint)
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
            if (_named.HasExited)
            {
                throw new InvalidOperationException($"named exited with code {_named.ExitCode}:\n{Log}");
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
            // Each failed query already waited up to its timeout; no extra sleep needed.
        }
        throw new TimeoutException($"named did not answer SOA {zone} within {within} ({last}):\n{Log}");
    }

    private static int FreePort()
    {
        // A port free for both UDP and TCP on loopback, as named binds both.
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
        throw new InvalidOperationException("no free loopback port for named");
    }

    public void Dispose()
    {
        try
        {
            if (!_named.HasExited)
            {
                _named.Kill();
                _named.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _named.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
