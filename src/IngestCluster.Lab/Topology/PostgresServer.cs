using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace IngestCluster.Lab.Topology;

/// <summary>
/// A throw-away PostgreSQL server for tests and labs: initdb into a temporary directory, then <c>postgres</c> in the
/// foreground on 127.0.0.1 and a free port, run as the <c>postgres</c> user through setpriv (which execs, so the PID
/// we hold is the server's own and we stop only what we started). It can be stopped and started again on the same
/// data, for outage tests. Needs root and Debian's postgresql package.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private LabProcess? _process;

    private PostgresServer(string directory, string bin, int port)
    {
        Directory = directory;
        _bin = bin;
        Port = port;
    }

    public string Directory { get; }

    public int Port { get; }

    public string Database => "ingest";

    /// <summary>An Npgsql connection string for the test database.</summary>
    public string ConnectionString =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database={Database};Pooling=true;Timeout=5;Command Timeout=10";

    public bool Running => _process is { HasExited: false };

    public static async Task<PostgresServer> Start(string? directory = null)
    {
        string bin = FindBinaries();
        directory ??= System.IO.Directory.CreateTempSubdirectory("ingest-pg-").FullName;
        string data = Path.Combine(directory, "data");
        System.IO.Directory.CreateDirectory(data);
        NetnsLab.Run("chown", "-R", "postgres:postgres", directory);
        NetnsLab.Run("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups",
            Path.Combine(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
        var server = new PostgresServer(directory, bin, FreePort());
        await server.StartAgain();
        NetnsLab.Run("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups",
            Path.Combine(bin, "psql"), "-h", "127.0.0.1", "-p", server.Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres",
            "-d", "postgres", "-q", "-c", $"CREATE DATABASE {server.Database}");
        return server;
    }

    /// <summary>Starts the server (again) on its data and port; returns once it accepts connections.</summary>
    public async Task StartAgain()
    {
        if (Running)
        {
            return;
        }
        _process?.Dispose();
        _process = LabProcess.Start("postgres", Directory, "setpriv",
        [
            "--reuid=postgres", "--regid=postgres", "--init-groups",
            Path.Combine(_bin, "postgres"), "-D", Path.Combine(Directory, "data"),
            "-p", Port.ToString(CultureInfo.InvariantCulture), "-k", Directory,
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200",
        ]);
        await _process.WaitForLine(l => l.Contains("ready to accept connections", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
    }

    /// <summary>Stops the server (a database outage); its data stays for <see cref="StartAgain"/>.</summary>
    public async Task Stop()
    {
        if (_process is not null)
        {
            _process.Signal(2); // SIGINT: PostgreSQL's fast shutdown, which does not wait for clients to disconnect
            await _process.Stop(TimeSpan.FromSeconds(10));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Stop();
        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private static string FindBinaries()
    {
        const string root = "/usr/lib/postgresql";
        var bin = System.IO.Directory.Exists(root)
            ? System.IO.Directory.GetDirectories(root).Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "postgres"))).OrderDescending(StringComparer.Ordinal).FirstOrDefault()
            : null;
        return bin ?? throw new InvalidOperationException("PostgreSQL is not installed (Debian package postgresql): scripts/install-test-deps.sh installs it");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
