using System.Diagnostics;
using System.Net;
using System.Text;

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

        _named = DnsServerProcess.Start("/usr/sbin/named", ["-g", "-n", "1", "-c", confPath], _log);

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

    private void WaitUntilReady(string zone, TimeSpan within) =>
        DnsServerProcess.WaitUntilAnswering(EndPoint, zone, within, _named, () => Log);

    private static int FreePort() => DnsServerProcess.FreePort();

    public void Dispose()
    {
        DnsServerProcess.Stop(_named);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
