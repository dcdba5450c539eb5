using System.Diagnostics;

namespace IngestCluster.Lab.Topology;

/// <summary>
/// Network namespaces joined by veth pairs, built with iproute2 and removed on <see cref="DisposeAsync"/>, with
/// everything started in them. Both ends of every veth are created inside lab namespaces: the host's own
/// interfaces and routes are never touched. Namespace names carry a per-lab prefix, so labs do not collide.
/// </summary>
public sealed class NetnsLab : IAsyncDisposable
{
    private readonly List<string> _namespaces = [];
    private readonly List<LabProcess> _processes = [];
    private readonly List<int> _daemonPids = [];

    private NetnsLab(string prefix, string directory)
    {
        Prefix = prefix;
        Directory = directory;
    }

    /// <summary>Prepended to every namespace name of this lab.</summary>
    public string Prefix { get; }

    /// <summary>A temporary directory for configs and logs; kept after the lab is gone when it failed.</summary>
    public string Directory { get; }

    public IReadOnlyList<LabProcess> Processes => _processes;

    /// <summary>A lab whose namespaces are named <paramref name="prefix"/> + name (default: purpose, this process's id
    /// and a dash) and whose configs and logs go to <paramref name="directory"/> (default: a new temporary one).</summary>
    public static NetnsLab Create(string purpose, string? prefix = null, string? directory = null)
    {
        prefix ??= $"{purpose}{Environment.ProcessId % 100000}-";
        if (directory is null)
        {
            directory = System.IO.Directory.CreateTempSubdirectory($"ingest-lab-{purpose}-").FullName;
        }
        else
        {
            System.IO.Directory.CreateDirectory(directory);
        }
        return new NetnsLab(prefix, directory);
    }

    /// <summary>Every namespace this lab made (full names), in order.</summary>
    public IReadOnlyList<string> Namespaces => _namespaces;

    /// <summary>The FRR daemons' PIDs (they fork themselves).</summary>
    public IReadOnlyList<int> DaemonPids => _daemonPids;

    public string Ns(string name) => Prefix + name;

    public void AddNamespace(string name)
    {
        string ns = Ns(name);
        Run("ip", "netns", "add", ns);
        _namespaces.Add(ns);
        Run("ip", "-n", ns, "link", "set", "lo", "up");
        Sysctl(name, "net.ipv4.conf.all.rp_filter", "0");
        Sysctl(name, "net.ipv4.conf.default.rp_filter", "0");
    }

    /// <summary>A veth pair from <paramref name="a"/>'s <paramref name="ifA"/> to <paramref name="b"/>'s
    /// <paramref name="ifB"/>, with addresses in CIDR form.</summary>
    public void Link(string a, string ifA, string addressA, string b, string ifB, string addressB)
    {
        Run("ip", "-n", Ns(a), "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", Ns(b));
        foreach (var (ns, dev, address) in new[] { (a, ifA, addressA), (b, ifB, addressB) })
        {
            Run("ip", "-n", Ns(ns), "addr", "add", address, "dev", dev);
            Run("ip", "-n", Ns(ns), "link", "set", dev, "up");
            Sysctl(ns, $"net.ipv4.conf.{dev}.rp_filter", "0");
        }
    }

    /// <summary>A Linux bridge <paramref name="bridge"/> in namespace <paramref name="name"/>: a LAN that several
    /// namespaces attach to with <see cref="Attach"/>.</summary>
    public void Bridge(string name, string bridge)
    {
        Run("ip", "-n", Ns(name), "link", "add", bridge, "type", "bridge");
        // No multicast snooping: every port sees every group, as on a plain switch (and PIM to 224.0.0.13 floods).
        Run("ip", "-n", Ns(name), "link", "set", bridge, "type", "bridge", "mcast_snooping", "0");
        Run("ip", "-n", Ns(name), "link", "set", bridge, "up");
    }

    /// <summary>Attaches namespace <paramref name="name"/> to a bridge made by <see cref="Bridge"/>: its interface
    /// <paramref name="dev"/> with <paramref name="address"/> (CIDR), the bridge side named <paramref name="port"/>.</summary>
    public void Attach(string name, string dev, string address, string bridgeNamespace, string bridge, string port)
    {
        Run("ip", "-n", Ns(name), "link", "add", dev, "type", "veth", "peer", "name", port, "netns", Ns(bridgeNamespace));
        Run("ip", "-n", Ns(name), "addr", "add", address, "dev", dev);
        Run("ip", "-n", Ns(name), "link", "set", dev, "up");
        Sysctl(name, $"net.ipv4.conf.{dev}.rp_filter", "0");
        Run("ip", "-n", Ns(bridgeNamespace), "link", "set", port, "master", bridge);
        Run("ip", "-n", Ns(bridgeNamespace), "link", "set", port, "up");
    }

    /// <summary>Sets a link of a namespace up or down (a cut cable).</summary>
    public void SetLink(string name, string dev, bool up) =>
        Run("ip", "-n", Ns(name), "link", "set", dev, up ? "up" : "down");

    public void Sysctl(string name, string key, string value) =>
        Run("ip", "netns", "exec", Ns(name), "sysctl", "-qw", $"{key}={value}");

    public string Exec(string name, params string[] command) => Run(["ip", "netns", "exec", Ns(name), .. command]);

    /// <summary>Starts a long-running program in a namespace; it is stopped by PID when the lab is disposed.</summary>
    public LabProcess Start(string name, string processName, string file, IEnumerable<string> args,
        IDictionary<string, string>? environment = null)
    {
        var process = LabProcess.Start(processName, Directory, "ip", ["netns", "exec", Ns(name), file, .. args], environment);
        _processes.Add(process);
        return process;
    }

    /// <summary>Remembers a daemon that forked itself (FRR's -d) by the PID from its pid file.</summary>
    public void TrackDaemon(int pid) => _daemonPids.Add(pid);

    /// <summary>Runs a command to completion; throws with its output when it fails.</summary>
    public static string Run(params string[] command)
    {
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill();
            throw new TimeoutException($"`{string.Join(' ', command)}` did not finish within 30 s");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"`{string.Join(' ', command)}` exited with {process.ExitCode}: {stderr.Result}{stdout.Result}");
        }
        return stdout.Result;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            try
            {
                await process.Stop(TimeSpan.FromSeconds(5));
            }
            finally
            {
                process.Dispose();
            }
        }
        foreach (var pid in _daemonPids)
        {
            try
            {
                using var daemon = Process.GetProcessById(pid);
                daemon.Kill();
                daemon.WaitForExit(5000);
            }
            catch (ArgumentException)
            {
                // Already exited.
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
        }
        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            try
            {
                Run("ip", "netns", "del", ns);
            }
            catch (InvalidOperationException)
            {
                // Best effort: report nothing more, the namespace may have gone with its processes.
            }
        }
    }
}
