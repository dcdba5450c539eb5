using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Lab.Topology;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols;

namespace IngestCluster.LabBench;

/// <summary>
/// The data plane, reported as docs/protocols.md ("Data plane") asks: the same `gen amt` load (AMT Multicast Data carrying
/// 1,316-byte UDP payloads for (10.99.1.100, 232.1.1.1)) through, one after the other and interleaved over rounds:
/// our node's data path (TunnelReceiveLoop + JoinedFlowTable + NativeEgress), a bare C# loop on the same kind of
/// sockets with no checks, cfwd batch 1 and 64, and the kernel's own multicast forwarding (mroute, with native
/// load). Packets are counted at the sink; per-core rates use the forwarder's CPU time.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static partial class DataPlane
{
    private const int AmtPort = 2268;
    private static readonly TimeSpan RunTime = TimeSpan.FromSeconds(5);

    public static async Task<int> Run(int rounds)
    {
        string tools = BuildReferenceTools();
        await using var lab = CreateLab();

        var results = new Dictionary<string, List<Sample>>();
        string[] order = ["ours, batch 64, packet socket", "ours, batch 64", "ours, batch 64, UDP GRO", "ours, batch 1", "bare C#", "cfwd 1", "cfwd 64", "kernel mroute"];
        if (!KernelSupport.MulticastRouting)
        {
            Console.WriteLine($"kernel mroute: not run ({KernelSupport.NoMulticastRouting})");
            order = [.. order.Where(n => n != "kernel mroute")];
        }
        for (int round = 1; round <= rounds; round++)
        {
            foreach (var name in order)
            {
                var sample = name switch
                {
                    "ours, batch 64, packet socket" => await InProcess(lab, tools, round, bare: false, batch: 64, egressSocket: EgressSocket.Packet),
                    "ours, batch 64" => await InProcess(lab, tools, round, bare: false, batch: 64),
                    "ours, batch 64, UDP GRO" => await WithGro(lab, tools, () => InProcess(lab, tools, round, bare: false, batch: 64, gro: true)),
                    "ours, batch 1" => await InProcess(lab, tools, round, bare: false, batch: 1),
                    "bare C#" => await InProcess(lab, tools, round, bare: true, batch: 1),
                    "cfwd 1" => await External(lab, tools, round, name, [$"{tools}/cfwd", AmtPort.ToString(CultureInfo.InvariantCulture), "f1", "1"], native: false),
                    "cfwd 64" => await External(lab, tools, round, name, [$"{tools}/cfwd", AmtPort.ToString(CultureInfo.InvariantCulture), "f1", "64"], native: false),
                    _ => await External(lab, tools, round, name, [$"{tools}/mroute", "10.99.1.1", "232.1.1.1", "f0", "f1"], native: true),
                };
                (results.TryGetValue(name, out var list) ? list : results[name] = []).Add(sample);
                Console.WriteLine($"round {round} {name,-14} {sample.PacketsPerSecond,10:N0} pkt/s  cpu {sample.CpuSeconds,5:0.00} s" +
                    (sample.AllocatedBytesPerPacket is { } a ? $"  alloc {a:0.000} B/pkt" : ""));
            }
        }

        double Median(IEnumerable<double> values)
        {
            var v = values.Order().ToList();
            return v.Count % 2 == 1 ? v[v.Count / 2] : (v[(v.Count / 2) - 1] + v[v.Count / 2]) / 2;
        }
        double cfwd64 = Median(results["cfwd 64"].Select(s => s.PacketsPerSecond));
        double PerCpu(string name) => Median(results[name].Select(s => s.CpuSeconds > 0 ? s.Packets / s.CpuSeconds : double.NaN));
        double cfwd64PerCpu = PerCpu("cfwd 64");
        double bare = Median(results["bare C#"].Select(s => s.PacketsPerSecond));
        Console.WriteLine();
        Console.WriteLine($"| forwarder | packets/s (median of {rounds}) | packets per CPU-second | per CPU-second, ratio to cfwd 64 | packets/s, ratio to cfwd 64 | packets/s, ratio to bare C# |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var name in order)
        {
            double pps = Median(results[name].Select(s => s.PacketsPerSecond));
            double perCore = PerCpu(name);
            string perCpuCells = double.IsNaN(perCore) ? "n/a | n/a" : $"{perCore.ToString("N0", CultureInfo.InvariantCulture)} | {perCore / cfwd64PerCpu:0.00}";
            Console.WriteLine($"| {name} | {pps:N0} | {perCpuCells} | {pps / cfwd64:0.00} | {pps / bare:0.00} |");
        }
        var alloc = results["ours, batch 64, packet socket"].Concat(results["ours, batch 64"]).Concat(results["ours, batch 1"]).Select(s => s.AllocatedBytesPerPacket ?? double.NaN).ToList();
        Console.WriteLine($"\nours: allocated bytes per packet (whole process, per run): {string.Join(", ", alloc.Select(a => a.ToString("0.000", CultureInfo.InvariantCulture)))}");
        return 0;
    }

    private static NetnsLab CreateLab()
    {
        var lab = NetnsLab.Create("icdp");
        lab.AddNamespace("src");
        lab.AddNamespace("fwd");
        lab.AddNamespace("sink");
        lab.Link("src", "s0", "10.99.1.1/24", "fwd", "f0", "10.99.1.2/24");
        lab.Link("fwd", "f1", "10.99.2.1/24", "sink", "k0", "10.99.2.2/24");
        lab.Exec("sink", "ip", "route", "add", "10.99.1.0/24", "via", "10.99.2.1");
        lab.Exec("src", "ip", "route", "add", "10.99.2.0/24", "via", "10.99.1.2");
        lab.Exec("fwd", "ip", "route", "add", "232.0.0.0/8", "dev", "f1");
        return lab;
    }

    /// <summary>UDP GRO needs GRO on the receiving device; on veth that also gives it a NAPI poll (on the sending
    /// CPU). On for this run only, so every other forwarder runs as before.</summary>
    private static async Task<Sample> WithGro(NetnsLab lab, string tools, Func<Task<Sample>> run)
    {
        lab.Exec("fwd", $"{tools}/setgro", "f0", "on");
        try
        {
            return await run();
        }
        finally
        {
            lab.Exec("fwd", $"{tools}/setgro", "f0", "off");
        }
    }

    private sealed record Sample(long Packets, double PacketsPerSecond, double CpuSeconds, double? AllocatedBytesPerPacket);

    /// <summary>Our data path or the bare loop, in this process, on sockets made inside the fwd namespace.</summary>
    private static async Task<Sample> InProcess(NetnsLab lab, string tools, int round, bool bare, int batch, bool gro = false,
        EgressSocket egressSocket = EgressSocket.Raw)
    {
        string tag = bare ? "bare" : $"ours{batch}{(egressSocket == EgressSocket.Packet ? "p" : "")}";
        var sink = StartSink(lab, tools, $"sink-{tag}-{round}");
        var (udp, egress, bareRaw) = OnNamespaceThread(lab.Ns("fwd"), () =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.ReceiveBufferSize = 4 << 20;
            socket.Bind(new IPEndPoint(IPAddress.Parse("10.99.1.2"), AmtPort));
            return (socket, new NativeEgress("f1", new NodeMetrics(), egressSocket), bare ? BareRawSocket("f1") : null);
        });
        var gen = lab.Start("src", $"gen-{tag}-{round}", "taskset", ["-c", "0", $"{tools}/gen", "amt", "10.99.1.2", AmtPort.ToString(CultureInfo.InvariantCulture), "64"]);

        // The relay is whoever sends: learn the generator's address and port from its first datagram.
        var first = new byte[2048];
        var from = new SocketAddress(AddressFamily.InterNetwork);
        udp.ReceiveFrom(first, SocketFlags.None, from);
        var relay = (IPEndPoint)new IPEndPoint(IPAddress.Any, 0).Create(from);

        var previousAffinity = Process.GetCurrentProcess().ProcessorAffinity;
        Process.GetCurrentProcess().ProcessorAffinity = 2; // CPU 1; the generator has CPU 0
        long packets;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        if (bare)
        {
            long count = 0;
            var destination = new IPEndPoint(IPAddress.Parse("232.1.1.1"), 0).Serialize();
            var thread = new Thread(() =>
            {
                var buffer = GC.AllocateUninitializedArray<byte>(65536, pinned: true);
                var source = new SocketAddress(AddressFamily.InterNetwork);
                var raw = bareRaw!;
                try
                {
                    while (true)
                    {
                        int n = udp.ReceiveFrom(buffer, SocketFlags.None, source);
                        raw.SendTo(buffer.AsSpan(2, n - 2), SocketFlags.None, destination);
                        Interlocked.Increment(ref count);
                    }
                }
                catch (Exception e) when (e is ObjectDisposedException or SocketException)
                {
                    // Stopped.
                }
            }) { IsBackground = true };
            thread.Start();
            await Task.Delay(RunTime);
            packets = Interlocked.Read(ref count);
        }
        else
        {
            var metrics = new NodeMetrics();
            var path = new TunnelDataPath(udp, relay, egress, _ => { }, metrics)
            {
                Flows = JoinedFlowTable.Empty.With([new SourceGroup(IPAddress.Parse("10.99.1.100"), IPAddress.Parse("232.1.1.1"))], metrics),
            };
            using ITunnelReceiver receiver = batch > 1 ? new TunnelReactor(1, batch, gro, metrics) : new PerTunnelReceiver();
            await receiver.Add(path);
            await Task.Delay(RunTime);
            packets = metrics.Value("ingest_tunnel_data_packets_total");
            await receiver.Remove(path);
            if (gro)
            {
                Console.WriteLine($"  UDP GRO: {metrics.Value("ingest_tunnel_gro_coalesced_total"):N0} receives carried coalesced datagrams, of {packets:N0} datagrams");
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        await gen.Stop(TimeSpan.FromSeconds(3));
        udp.Dispose();
        egress.Dispose();
        bareRaw?.Dispose();
        Process.GetCurrentProcess().ProcessorAffinity = previousAffinity;
        long received = await StopSink(sink);
        // The sink's count is what left the forwarder; ours also counts what it handed to the kernel.
        return new Sample(received, received / seconds, cpu * received / Math.Max(1, packets), bare ? null : (double)allocated / Math.Max(1, packets));
    }

    /// <summary>The bare loop's own raw socket, as NativeEgress opens its own: IP_HDRINCL, bound to the interface.</summary>
    private static Socket BareRawSocket(string interfaceName)
    {
        var raw = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw);
        raw.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.HeaderIncluded, true);
        raw.SetRawSocketOption(1, 25, System.Text.Encoding.ASCII.GetBytes(interfaceName + "\0")); // SO_BINDTODEVICE
        raw.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, false);
        return raw;
    }

    private static async Task<Sample> External(NetnsLab lab, string tools, int round, string name, string[] forwarder, bool native)
    {
        string tag = name.Replace(' ', '-');
        var sink = StartSink(lab, tools, $"sink-{tag}-{round}");
        var fwd = lab.Start("fwd", $"{tag}-{round}", "taskset", ["-c", "1", .. forwarder]);
        await Task.Delay(300);
        var gen = native
            ? lab.Start("src", $"gen-{tag}-{round}", "taskset", ["-c", "0", $"{tools}/gen", "mc", "232.1.1.1", "5000", "s0", "64"])
            : lab.Start("src", $"gen-{tag}-{round}", "taskset", ["-c", "0", $"{tools}/gen", "amt", "10.99.1.2", AmtPort.ToString(CultureInfo.InvariantCulture), "64"]);
        await Task.Delay(200);
        double cpuBefore = CpuSeconds(fwd.Pid);
        var clock = Stopwatch.StartNew();
        long before = 0;
        await Task.Delay(RunTime);
        double seconds = clock.Elapsed.TotalSeconds;
        double cpu = CpuSeconds(fwd.Pid) - cpuBefore;
        await gen.Stop(TimeSpan.FromSeconds(3));
        await fwd.Stop(TimeSpan.FromSeconds(3));
        long received = await StopSink(sink) - before;
        // mroute is the kernel: its work happens in softirq on the receiving path, not in the process.
        return new Sample(received, received / seconds, native ? 0 : cpu, null);
    }

    private static LabProcess StartSink(NetnsLab lab, string tools, string name) =>
        lab.Start("sink", name, "taskset", ["-c", "0", $"{tools}/sink", "5000", "232.1.1.1", "k0", "64"]);

    private static async Task<long> StopSink(LabProcess sink)
    {
        await sink.Stop(TimeSpan.FromSeconds(3));
        var line = await sink.WaitForLine(l => l.Contains("sink: pkts=", StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        return long.Parse(PacketsPattern().Match(line).Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static double CpuSeconds(int pid)
    {
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // After the command: state is field 3, utime 14 and stime 15 (1-based), in clock ticks of 1/100 s.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>Builds gen, sink, cfwd and mroute from ../shared/tools/dataplane-ref into a temporary directory.</summary>
    private static string BuildReferenceTools()
    {
        string source = Path.GetFullPath(Path.Combine(FindRepository(), "..", "shared", "tools", "dataplane-ref"));
        string target = Directory.CreateTempSubdirectory("ingest-dataplane-ref-").FullName;
        foreach (var file in Directory.GetFiles(source, "*.c"))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
        foreach (var program in new[] { "gen", "sink", "cfwd", "mroute" })
        {
            NetnsLab.Run("cc", "-O2", "-Wall", "-o", Path.Combine(target, program), Path.Combine(target, program + ".c"));
        }
        // Ours: the many-tunnel generator and the GRO switch, next to this file.
        string bench = Path.Combine(FindRepository(), "bench", "IngestCluster.LabBench");
        foreach (var program in new[] { "multigen", "setgro" })
        {
            NetnsLab.Run("cc", "-O2", "-Wall", "-o", Path.Combine(target, program), Path.Combine(bench, program + ".c"));
        }
        return target;
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "IngestCluster.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("run from inside the repository: IngestCluster.sln not found above " + AppContext.BaseDirectory);
    }

    private static T OnNamespaceThread<T>(string ns, Func<T> work)
    {
        using var thread = new NamespaceThread(ns);
        return thread.Run(work);
    }

    private const int TunnelBasePort = 20000;
    private const int RelayPort = 2268;

    /// <summary>
    /// 1, 10, 100 and 1,000 tunnels through one reactor at the same aggregate rate (multigen: one socket, port after
    /// port), each tunnel its own socket and data path: packets per CPU-second of the forwarder, threads, RSS, and
    /// the kernel's and our memory per idle tunnel.
    /// </summary>
    public static async Task<int> Tunnels(double rate, int rounds)
    {
        string tools = BuildReferenceTools();
        await using var lab = CreateLab();
        int[] counts = [1, 10, 100, 1000];
        var results = counts.ToDictionary(n => n, _ => new List<TunnelSample>());
        for (int round = 1; round <= rounds; round++)
        {
            foreach (int n in counts)
            {
                var sample = await ManyTunnels(lab, tools, round, n, rate);
                results[n].Add(sample);
                Console.WriteLine($"round {round} tunnels {n,5}: {sample.PacketsPerSecond,10:N0} pkt/s, {sample.PerCpuSecond,10:N0} pkt/CPU-s, " +
                    $"threads {sample.Threads}, RSS {sample.RssKiB / 1024.0:0.0} MiB, idle per tunnel: ours {sample.OursPerTunnelKiB:0.0} KiB, kernel {sample.KernelPerTunnelKiB:0.0} KiB");
            }
        }
        double Median(IEnumerable<double> values)
        {
            var v = values.Order().ToList();
            return v.Count % 2 == 1 ? v[v.Count / 2] : (v[(v.Count / 2) - 1] + v[v.Count / 2]) / 2;
        }
        double one = Median(results[1].Select(s => s.PerCpuSecond));
        Console.WriteLine();
        Console.WriteLine($"| tunnels | packets/s | packets per CPU-second | ratio to 1 tunnel | threads (process) | RSS | idle per tunnel, ours | idle per tunnel, kernel |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int n in counts)
        {
            var r = results[n];
            double perCpu = Median(r.Select(s => s.PerCpuSecond));
            Console.WriteLine($"| {n:N0} | {Median(r.Select(s => s.PacketsPerSecond)):N0} | {perCpu:N0} | {perCpu / one:0.00} | {Median(r.Select(s => (double)s.Threads)):0} | " +
                $"{Median(r.Select(s => s.RssKiB / 1024.0)):0.0} MiB | {Median(r.Select(s => s.OursPerTunnelKiB)):0.0} KiB | {Median(r.Select(s => s.KernelPerTunnelKiB)):0.00} KiB |");
        }
        return 0;
    }

    private sealed record TunnelSample(double PacketsPerSecond, double PerCpuSecond, int Threads, long RssKiB, double OursPerTunnelKiB, double KernelPerTunnelKiB);

    private static async Task<TunnelSample> ManyTunnels(NetnsLab lab, string tools, int round, int n, double rate)
    {
        var sink = StartSink(lab, tools, $"sink-tunnels{n}-{round}");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long rssBefore = StatusKiB("VmRSS");
        long kernelBefore = SocketSlabBytes();
        var relay = new IPEndPoint(IPAddress.Parse("10.99.1.1"), RelayPort);
        var metrics = new NodeMetrics();
        var flow = new SourceGroup(IPAddress.Parse("10.99.1.100"), IPAddress.Parse("232.1.1.1"));
        var (sockets, egress) = OnNamespaceThread(lab.Ns("fwd"), () =>
        {
            var list = new Socket[n];
            for (int i = 0; i < n; i++)
            {
                list[i] = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                TunnelSocketOptions.SetReceiveBuffer(list[i], TunnelSocketOptions.Default.ReceiveBufferFloor);
                list[i].Bind(new IPEndPoint(IPAddress.Parse("10.99.1.2"), TunnelBasePort + i));
            }
            return (list, new NativeEgress("f1", metrics, EgressSocket.Packet));
        });
        var reactor = new TunnelReactor(Environment.ProcessorCount, 64, udpGro: false, metrics);
        var paths = sockets.Select(socket => new TunnelDataPath(socket, relay, egress, _ => { }, metrics)
        {
            Flows = JoinedFlowTable.Empty.With([flow], metrics),
        }).ToArray();
        foreach (var path in paths)
        {
            await reactor.Add(path);
        }
        GC.Collect();
        long rssIdle = StatusKiB("VmRSS");
        long kernelIdle = SocketSlabBytes();

        var gen = lab.Start("src", $"multigen-{n}-{round}", "taskset", ["-c", "0", $"{tools}/multigen", "10.99.1.2",
            TunnelBasePort.ToString(CultureInfo.InvariantCulture), n.ToString(CultureInfo.InvariantCulture),
            rate.ToString(CultureInfo.InvariantCulture), "64", RelayPort.ToString(CultureInfo.InvariantCulture)]);
        await Task.Delay(500); // warm-up: the first datagrams, the JIT
        long packetsBefore = metrics.Value("ingest_tunnel_data_packets_total");
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.Delay(RunTime);
        double seconds = clock.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        long packets = metrics.Value("ingest_tunnel_data_packets_total") - packetsBefore;
        int threads = (int)StatusKiB("Threads");
        long rss = StatusKiB("VmRSS");
        await gen.Stop(TimeSpan.FromSeconds(3));
        foreach (var path in paths)
        {
            await reactor.Remove(path);
        }
        reactor.Dispose();
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }
        egress.Dispose();
        await StopSink(sink);
        return new TunnelSample(packets / seconds, packets / Math.Max(cpu, 1e-9), threads, rss,
            (rssIdle - rssBefore) / (double)n, (kernelIdle - kernelBefore) / 1024.0 / n);
    }

    /// <summary>A field of /proc/self/status, in kB (or a plain count, for Threads).</summary>
    private static long StatusKiB(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    /// <summary>Bytes in the slab caches a UDP socket takes (the socket, its inode, its file, its epoll item): the
    /// kernel's memory for an idle tunnel. The caches are machine-wide, so other people's sockets add noise.</summary>
    private static long SocketSlabBytes()
    {
        string[] caches = ["UDP", "sock_inode_cache", "filp", "eventpoll_epi", "dentry"];
        long total = 0;
        foreach (var line in File.ReadLines("/proc/slabinfo"))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length > 3 && caches.Contains(f[0]))
            {
                total += long.Parse(f[1], CultureInfo.InvariantCulture) * long.Parse(f[3], CultureInfo.InvariantCulture);
            }
        }
        return total;
    }

    [System.Text.RegularExpressions.GeneratedRegex("pkts=([0-9]+)")]
    private static partial System.Text.RegularExpressions.Regex PacketsPattern();
}
