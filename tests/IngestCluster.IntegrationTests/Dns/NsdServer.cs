using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace IngestCluster.IntegrationTests.Dns;

/// <summary>
/// A real NSD 4.6 (NLnet Labs), authoritative, on 127.0.0.1 and a free port. NSD does not know AMTRELAY, so it keeps
/// type 260 RDATA opaque and serves Akamai's 22-byte record, which bind9 9.18 refuses to load ("unexpected end of
/// input": its AMTRELAY parser insists on the name's zero byte). Stopped by its PID in <see cref="Dispose"/>.
/// </summary>
internal sealed class NsdServer : IDisposable
{
    public const string Binary = "/usr/sbin/nsd";

    private readonly Process _nsd;
    private readonly StringBuilder _log = new();

    public NsdServer(IReadOnlyDictionary<string, string> zones, TimeSpan readyWithin)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException(
                $"{Binary} is missing: install the Debian package nsd (scripts/install-test-deps.sh lists the test packages)");
        }
        Directory = System.IO.Directory.CreateTempSubdirectory("ic-dns-nsd-").FullName;
        Port = DnsServerProcess.FreePort();
        var conf = new StringBuilder();
        conf.Append(CultureInfo.InvariantCulture, $"""
            server:
              ip-address: 127.0.0.1@{Port}
              do-ip6: no
              username: ""
              chroot: ""
              database: ""
              zonesdir: "{Directory}"
              zonelistfile: "{Directory}/zone.list"
              pidfile: "{Directory}/nsd.pid"
              xfrdfile: "{Directory}/xfrd.state"
              xfrdir: "{Directory}"
              server-count: 1
              verbosity: 1
            remote-control:
              control-enable: no

            """);
        int n = 0;
        foreach (var (origin, text) in zones)
        {
            string file = Path.Combine(Directory, $"zone{n++}.db");
            File.WriteAllText(file, text);
            conf.Append(CultureInfo.InvariantCulture, $"zone:\n  name: {origin}\n  zonefile: {file}\n");
        }
        string confPath = Path.Combine(Directory, "nsd.conf");
        File.WriteAllText(confPath, conf.ToString());

        _nsd = DnsServerProcess.Start(Binary, ["-d", "-c", confPath], _log);
        try
        {
            DnsServerProcess.WaitUntilAnswering(EndPoint, zones.Keys.First(), readyWithin, _nsd, () => Log);
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

    public void Dispose()
    {
        DnsServerProcess.Stop(_nsd);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
