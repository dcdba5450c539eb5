namespace IngestCluster.Lab.Topology;

/// <summary>
/// FRR (zebra, staticd, pimd) in a lab namespace, started directly without watchfrr, as LAB.md describes:
/// own config, pid and vty socket directory (owned by frr:frr), each daemon daemonised with -d and tracked by
/// the PID in its pid file.
/// </summary>
public sealed class FrrRouter
{
    private const string FrrBin = "/usr/lib/frr";

    private FrrRouter(NetnsLab lab, string ns, string directory)
    {
        Lab = lab;
        Namespace = ns;
        Directory = directory;
    }

    public NetnsLab Lab { get; }

    public string Namespace { get; }

    public string Directory { get; }

    /// <summary>Starts zebra, staticd and pimd in <paramref name="ns"/> with the given configs.</summary>
    public static async Task<FrrRouter> Start(NetnsLab lab, string ns, string zebraConf, string staticdConf, string pimdConf)
    {
        string dir = Path.Combine(lab.Directory, $"frr-{ns}");
        System.IO.Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "zebra.conf"), zebraConf);
        File.WriteAllText(Path.Combine(dir, "staticd.conf"), staticdConf);
        File.WriteAllText(Path.Combine(dir, "pimd.conf"), pimdConf);
        File.WriteAllText(Path.Combine(dir, "vtysh.conf"), "");
        NetnsLab.Run("chown", "-R", "frr:frr", dir);
        NetnsLab.Run("chmod", "755", lab.Directory);

        var router = new FrrRouter(lab, ns, dir);
        foreach (var daemon in new[] { "zebra", "staticd", "pimd" })
        {
            lab.Exec(ns, $"{FrrBin}/{daemon}", "-d",
                "-f", Path.Combine(dir, $"{daemon}.conf"),
                "-i", Path.Combine(dir, $"{daemon}.pid"),
                "-z", Path.Combine(dir, "zserv.api"),
                "--vty_socket", dir,
                "-P", "0",
                "--log", $"file:{Path.Combine(dir, daemon + ".log")}");
            lab.TrackDaemon(await ReadPid(Path.Combine(dir, $"{daemon}.pid")));
            if (daemon == "zebra")
            {
                await WaitFor(() => File.Exists(Path.Combine(dir, "zserv.api")), TimeSpan.FromSeconds(10), "zebra's zserv.api socket");
            }
        }
        return router;
    }

    /// <summary>A vtysh command's output, e.g. <c>show ip pim upstream json</c>.</summary>
    public string Vtysh(string command) => Lab.Exec(Namespace, "vtysh", "--vty_socket", Directory, "-c", command);

    private static async Task<int> ReadPid(string path)
    {
        await WaitFor(() => File.Exists(path) && File.ReadAllText(path).Trim().Length > 0, TimeSpan.FromSeconds(10), path);
        return int.Parse(File.ReadAllText(path).Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"FRR: {what} did not appear within {timeout}");
            }
            await Task.Delay(20);
        }
    }
}
