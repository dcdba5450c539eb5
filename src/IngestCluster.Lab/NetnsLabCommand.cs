using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using IngestCluster.Lab.Topology;

namespace IngestCluster.Lab;

/// <summary>
/// <c>netns-lab</c>: the three-node <see cref="ClusterTopology"/> kept running for people, not tests
/// (<c>deploy/lab/netns-lab.sh</c> drives it). <c>up</c> builds the lab (FRR, bind9 with AMTRELAY and DORMS SRV
/// records, the lab relay, DORMS server, sources and three ingest nodes), writes its state to <c>--dir</c> and serves
/// requests until SIGTERM or SIGINT, then removes everything it made. <c>request</c> asks a running <c>up</c> to join,
/// leave or report, through files in <c>DIR/control</c>: the receivers are the lab's own processes, stopped with it.
/// </summary>
internal static class NetnsLabCommand
{
    public const string Usage =
        "usage: IngestCluster.Lab netns-lab up --dir DIR [--prefix icnl-] [--net 10.170] [--sources 2] [--rate 100] [--limit 100Mbps] [--dorms-kbps 500]\n" +
        "       IngestCluster.Lab netns-lab request --dir DIR (join S G | leave S G | status) [--timeout 30s]";

    private static readonly HashSet<string> UpOptions = ["dir", "prefix", "net", "sources", "rate", "limit", "dorms-kbps"];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, StatusWriter status)
    {
        if (args.Count == 0)
        {
            throw new UsageException("netns-lab needs 'up' or 'request'");
        }
        return args[0] switch
        {
            "up" => await Up(LabArguments.Parse([.. args.Skip(1)], UpOptions, new HashSet<string>()), status).ConfigureAwait(false),
            "request" => await Request([.. args.Skip(1)]).ConfigureAwait(false),
            _ => throw new UsageException($"unknown netns-lab command '{args[0]}'"),
        };
    }

    private static async Task<int> Up(LabArguments options, StatusWriter status)
    {
        string dir = Path.GetFullPath(options.RequiredText("dir"));
        string prefix = options.Text("prefix") ?? "icnl-";
        string net = options.Text("net") ?? "10.170";
        if (!System.Text.RegularExpressions.Regex.IsMatch(net, @"^10\.(\d{1,3})$"))
        {
            throw new UsageException("--net must be the first two octets of a 10/8 address, e.g. 10.170");
        }
        int sources = (int)options.Integer("sources", 2, 1, ClusterTopology.Sources);
        int rate = (int)options.Integer("rate", 100, 1, 10_000);
        int dormsKbps = (int)options.Integer("dorms-kbps", 500, 1, 10_000_000);
        string limit = options.Text("limit") ?? "100Mbps";

        var existing = NetnsLab.Run("ip", "netns", "list").Split('\n')
            .Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        if (existing.Count > 0)
        {
            Console.Error.WriteLine($"error: namespaces {string.Join(", ", existing)} exist already; run `netns-lab.sh down` first");
            return 1;
        }
        Directory.CreateDirectory(Path.Combine(dir, "control"));
        // FRR's daemons run as frr and must reach their directory under logs/ (a temporary --dir is 0700).
        NetnsLab.Run("chmod", "755", dir);
        foreach (var stale in Directory.GetFiles(Path.Combine(dir, "control")))
        {
            File.Delete(stale);
        }
        if (!KernelSupport.MulticastRouting)
        {
            // The lab still comes up (the cluster, DNS, DORMS, the relay and joinfile demand work), but the router
            // carries no receiver's stream.
            Console.Error.WriteLine($"warning: {KernelSupport.NoMulticastRouting}; the receivers behind the router will get nothing");
        }
        var started = Stopwatch.StartNew();
        using var lifetime = new LabLifetime(null);
        var plan = new ClusterLabPlan(net, sources, prefix, Path.Combine(dir, "logs"), dormsKbps);
        var state = new LabState(dir, plan);
        state.Write("building", null);
        ClusterTopology topology;
        try
        {
            topology = await ClusterTopology.Create("icnl", plan).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or IOException)
        {
            // Create removed what it had made.
            Console.Error.WriteLine($"error: netns-lab up: building the topology: {e.Message}");
            state.Write("failed", null);
            return 1;
        }
        await using (topology.ConfigureAwait(false))
        {
            try
            {
                state.Topology = topology;
                state.Write("building", null);
                var relay = topology.StartLab("rly", "relay", "relay", "--listen", plan.Relay, "--upstream-interface", "b0",
                    "--qqic", "20", "--qrv", "2", "--status-interval", "10s");
                await relay.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                string ca = Path.Combine(topology.Lab.Directory, "dorms-ca.pem");
                var flows = string.Join(';', Enumerable.Range(0, sources).Select(i =>
                    string.Create(CultureInfo.InvariantCulture, $"{plan.Source(i)},{ClusterLabPlan.Group(i)},{dormsKbps}")));
                var dorms = topology.StartLab("rly", "dorms", "dorms", "--listen",
                    string.Create(CultureInfo.InvariantCulture, $"{plan.Relay}:{ClusterLabPlan.DormsPort}"),
                    "--name", ClusterLabPlan.DormsName, "--write-ca", ca, "--flows", flows);
                await dorms.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                for (int i = 0; i < sources; i++)
                {
                    topology.StartSource(i, rate);
                }
                for (int n = 1; n <= 3; n++)
                {
                    topology.StartNode(n, $"--Budget:Limit={limit}", $"--Budget:Metadata:CaBundle={ca}");
                }
                state.Write("starting nodes", null);
                await WaitUntil(() => Enumerable.Range(1, 3).All(n => UpMembers(topology, n) == 3), TimeSpan.FromSeconds(150),
                    "three members up on every node", lifetime.Stopping).ConfigureAwait(false);
                state.Write("ready", started.Elapsed);
                status.Write("ready", json =>
                {
                    json.WriteString("dir", dir);
                    json.WriteNumber("seconds", Math.Round(started.Elapsed.TotalSeconds, 1));
                });
                await Serve(topology, state, lifetime.Stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (lifetime.Stopping.IsCancellationRequested)
            {
                // Asked to stop while building: fall through to the clean-up.
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"error: netns-lab up: {e.Message}");
                state.Write("failed", null);
                return 1;
            }
            finally
            {
                state.Write("stopping", null);
            }
        }
        state.Topology = null; // its processes are disposed now
        state.Write("down", null);
        status.Write("down", json => json.WriteString("dir", dir));
        return 0;
    }

    private static async Task Serve(ClusterTopology topology, LabState state, CancellationToken stopping)
    {
        string control = Path.Combine(state.Dir, "control");
        var lastWrite = DateTime.UtcNow;
        while (!stopping.IsCancellationRequested)
        {
            foreach (var request in Directory.GetFiles(control, "*.req"))
            {
                string reply;
                int code;
                try
                {
                    var words = File.ReadAllText(request).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    (code, reply) = await Handle(topology, state, words).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or FormatException or TimeoutException or InvalidOperationException)
                {
                    (code, reply) = (1, $"error: {e.Message}\n");
                }
                File.Delete(request);
                string temp = Path.ChangeExtension(request, ".tmp");
                File.WriteAllText(temp, $"{code}\n{reply}");
                File.Move(temp, Path.ChangeExtension(request, ".rep"), overwrite: true);
                state.Write("ready", null);
            }
            if (DateTime.UtcNow - lastWrite > TimeSpan.FromSeconds(2))
            {
                // A node killed from outside shows as exited in the state file.
                state.Write("ready", null);
                lastWrite = DateTime.UtcNow;
            }
            try
            {
                await Task.Delay(100, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task<(int Code, string Reply)> Handle(ClusterTopology topology, LabState state, string[] words)
    {
        switch (words)
        {
            case ["join", var s, var g]:
            {
                var (source, group) = (IPAddress.Parse(s).ToString(), IPAddress.Parse(g).ToString());
                if (state.Receivers.TryGetValue((source, group), out var running) && !running.HasExited)
                {
                    return (0, $"already joined ({source},{group}): receiver pid {running.Pid}\n");
                }
                var receiver = topology.StartReceiver(source, group, $"receiver-{source}-{group}");
                state.Receivers[(source, group)] = receiver;
                await receiver.WaitForLine(l => l.Contains("\"joined\"", StringComparison.Ordinal), TimeSpan.FromSeconds(20)).ConfigureAwait(false);
                return (0, $"joined ({source},{group}) on r0 in {topology.Lab.Ns("rcv")}: receiver pid {receiver.Pid}, log {receiver.LogPath}\n");
            }
            case ["leave", var s, var g]:
            {
                var key = (IPAddress.Parse(s).ToString(), IPAddress.Parse(g).ToString());
                if (!state.Receivers.Remove(key, out var receiver))
                {
                    return (1, $"no receiver for ({key.Item1},{key.Item2})\n");
                }
                var (received, _, _) = ReceiverCounters(receiver);
                await receiver.Stop(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                return (0, $"left ({key.Item1},{key.Item2}): the receiver had {received} packets\n");
            }
            case ["status"]:
                return (0, StatusText(topology, state));
            default:
                return (2, $"unknown request '{string.Join(' ', words)}' (join S G, leave S G, status)\n");
        }
    }

    private static string StatusText(ClusterTopology topology, LabState state)
    {
        var text = new StringBuilder();
        for (int n = 1; n <= 3; n++)
        {
            var node = topology.Node(n);
            text.Append(CultureInfo.InvariantCulture, $"node {n}  {topology.Plan.ClusterHost(n),-12} pid {node.Pid,-7} ")
                .Append(node.HasExited ? $"exited ({node.ExitCode})" : "running").Append('\n');
        }
        int? asked = Enumerable.Range(1, 3).Cast<int?>().FirstOrDefault(n => !topology.Node(n!.Value).HasExited);
        if (asked is { } a && topology.NodeStatus(a) is { } json)
        {
            using var doc = JsonDocument.Parse(json);
            text.Append(CultureInfo.InvariantCulture, $"members (node {a}'s /status):\n");
            foreach (var m in doc.RootElement.GetProperty("members").EnumerateArray())
            {
                text.Append(CultureInfo.InvariantCulture, $"  {m.GetProperty("address").GetString()}  {m.GetProperty("status").GetString()}\n");
            }
            text.Append("sources:\n");
            foreach (var s in doc.RootElement.GetProperty("sources").EnumerateArray())
            {
                string host = s.TryGetProperty("node", out var h) ? h.GetString() ?? "" : "";
                text.Append(CultureInfo.InvariantCulture, $"  {s.GetProperty("source").GetString()}  {s.GetProperty("state").GetString()}  on {host}\n");
            }
        }
        else
        {
            text.Append("members: no node answers on its admin API\n");
        }
        text.Append("receivers:\n");
        if (state.Receivers.Count == 0)
        {
            text.Append("  none (netns-lab.sh join S G)\n");
        }
        foreach (var ((source, group), receiver) in state.Receivers)
        {
            var (received, lost, recent) = ReceiverCounters(receiver);
            string getting = receiver.HasExited ? "exited" : recent > 0 ? "receiving" : "NOT receiving";
            text.Append(CultureInfo.InvariantCulture,
                $"  ({source},{group})  pid {receiver.Pid}  {getting}  received {received}  lost {lost}  last 500ms {recent}\n");
        }
        return text.ToString();
    }

    /// <summary>A receiver's last status line: total received, lost, and received in its last interval.</summary>
    private static (long Received, long Lost, long Recent) ReceiverCounters(LabProcess receiver)
    {
        foreach (var line in receiver.Lines().Reverse())
        {
            if (!line.Contains("\"status\"", StringComparison.Ordinal))
            {
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(line);
                var r = doc.RootElement;
                return (r.GetProperty("received").GetInt64(), r.GetProperty("lost").GetInt64(), r.GetProperty("receivedSinceLastStatus").GetInt64());
            }
            catch (JsonException)
            {
            }
        }
        return (0, 0, 0);
    }

    private static int UpMembers(ClusterTopology topology, int node)
    {
        if (topology.Node(node).HasExited)
        {
            throw new InvalidOperationException($"node {node} exited with {topology.Node(node).ExitCode}; see {topology.Node(node).LogPath}");
        }
        if (topology.NodeStatus(node) is not { } json)
        {
            return 0;
        }
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up");
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not within {timeout}");
            }
            await Task.Delay(500, cancel).ConfigureAwait(false);
        }
    }

    /// <summary>The client side: one request file, then wait for its reply.</summary>
    private static async Task<int> Request(IReadOnlyList<string> args)
    {
        string? dir = null;
        var timeout = TimeSpan.FromSeconds(30);
        var words = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--dir" && i + 1 < args.Count)
            {
                dir = args[++i];
            }
            else if (args[i] == "--timeout" && i + 1 < args.Count && LabArguments.TryParseDuration(args[++i], out var t))
            {
                timeout = t;
            }
            else
            {
                words.Add(args[i]);
            }
        }
        if (dir is null || words.Count == 0)
        {
            throw new UsageException("request needs --dir DIR and a request");
        }
        string control = Path.Combine(dir, "control");
        if (!Directory.Exists(control))
        {
            Console.Error.WriteLine($"error: no lab in {dir} (run `netns-lab.sh up`)");
            return 1;
        }
        string id = Guid.NewGuid().ToString("N");
        string temp = Path.Combine(control, id + ".tmp");
        File.WriteAllText(temp, string.Join(' ', words));
        File.Move(temp, Path.Combine(control, id + ".req"));
        string reply = Path.Combine(control, id + ".rep");
        var deadline = DateTime.UtcNow + timeout;
        while (!File.Exists(reply))
        {
            if (DateTime.UtcNow > deadline)
            {
                File.Delete(Path.Combine(control, id + ".req"));
                Console.Error.WriteLine($"error: the lab in {dir} did not answer within {timeout} (is `up` running?)");
                return 1;
            }
            await Task.Delay(50).ConfigureAwait(false);
        }
        var text = await File.ReadAllTextAsync(reply).ConfigureAwait(false);
        File.Delete(reply);
        int newline = text.IndexOf('\n', StringComparison.Ordinal);
        Console.Out.Write(text[(newline + 1)..]);
        return int.Parse(text[..newline], CultureInfo.InvariantCulture);
    }

    /// <summary>DIR/state.json and the plain files the script reads: up.pid, nodeN.pid, nodeN.log (a symlink).</summary>
    private sealed class LabState(string dir, ClusterLabPlan plan)
    {
        public string Dir { get; } = dir;

        public ClusterTopology? Topology { get; set; }

        public Dictionary<(string Source, string Group), LabProcess> Receivers { get; } = [];

        private TimeSpan? _upTime;

        public void Write(string phase, TimeSpan? upTime)
        {
            _upTime = upTime ?? _upTime;
            File.WriteAllText(Path.Combine(Dir, "up.pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("phase", phase);
                json.WriteNumber("upPid", Environment.ProcessId);
                if (_upTime is { } t)
                {
                    json.WriteNumber("upSeconds", Math.Round(t.TotalSeconds, 1));
                }
                json.WriteString("prefix", plan.NamespacePrefix);
                json.WriteString("net", plan.Net);
                json.WriteString("logs", plan.Directory);
                json.WriteString("clusterAddress", plan.ClusterAddress);
                json.WriteString("relay", plan.Relay);
                json.WriteStartArray("sources");
                for (int i = 0; i < plan.Sources; i++)
                {
                    json.WriteStartObject();
                    json.WriteString("source", plan.Source(i));
                    json.WriteString("group", ClusterLabPlan.Group(i));
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                if (Topology is { } topology)
                {
                    json.WriteStartArray("namespaces");
                    foreach (var ns in topology.Lab.Namespaces)
                    {
                        json.WriteStringValue(ns);
                    }
                    json.WriteEndArray();
                    json.WriteStartArray("frrPids");
                    foreach (var pid in topology.Lab.DaemonPids)
                    {
                        json.WriteNumberValue(pid);
                    }
                    json.WriteEndArray();
                    json.WriteStartArray("processes");
                    foreach (var p in topology.Lab.Processes)
                    {
                        json.WriteStartObject();
                        json.WriteString("name", p.Name);
                        json.WriteNumber("pid", p.Pid);
                        json.WriteBoolean("running", !p.HasExited);
                        json.WriteString("log", p.LogPath);
                        json.WriteEndObject();
                    }
                    json.WriteEndArray();
                    for (int n = 1; n <= 3; n++)
                    {
                        LabProcess node;
                        try
                        {
                            node = topology.Node(n);
                        }
                        catch (KeyNotFoundException)
                        {
                            continue;
                        }
                        File.WriteAllText(Path.Combine(Dir, $"node{n}.pid"), node.Pid.ToString(CultureInfo.InvariantCulture) + "\n");
                        string link = Path.Combine(Dir, $"node{n}.log");
                        if (!File.Exists(link) || new FileInfo(link).LinkTarget != node.LogPath)
                        {
                            File.Delete(link);
                            File.CreateSymbolicLink(link, node.LogPath);
                        }
                    }
                }
                json.WriteEndObject();
            }
            string temp = Path.Combine(Dir, "state.json.tmp");
            File.WriteAllBytes(temp, buffer.ToArray());
            File.Move(temp, Path.Combine(Dir, "state.json"), overwrite: true);
        }
    }
}
