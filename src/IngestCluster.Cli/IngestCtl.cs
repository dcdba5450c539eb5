using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using IngestCluster.Admin.Contracts;
using Spectre.Console;

namespace IngestCluster.Cli;

/// <summary>
/// ingestctl: <c>ingestctl [host:port] &lt;palette&gt; &lt;command&gt; [options]</c>, as pbm is used, or with
/// <c>--node host:port</c>. Palettes and commands follow Petabridge.Cmd's names where pbm has the command (cluster,
/// cluster-sharding, actor); ingest, relay, log, budget and capture are ours. Every command and its output: docs/operations.md.
/// </summary>
public static class IngestCtl
{
    public const string DefaultNode = "127.0.0.1:9110";
    public const string TokenVariable = "INGESTCTL_TOKEN";

    private static readonly string[] Palettes = ["cluster", "cluster-sharding", "actor", "ingest", "relay", "log", "budget", "capture"];

    /// <summary>Runs one command line; returns its exit code (<see cref="ExitCodes"/>).</summary>
    public static async Task<int> RunAsync(string[] args, IAnsiConsole output, TextWriter error,
        Func<string, string?>? environment = null, HttpMessageHandler? handler = null, CancellationToken cancellation = default)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var context = new Context(output, handler);
        var root = Build(context, environment);
        var parse = root.Parse(Normalize(args));
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                await error.WriteLineAsync($"ingestctl: {e.Message}");
            }
            await error.WriteLineAsync("ingestctl: see ingestctl --help");
            return ExitCodes.BadArgument;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = output.Profile.Out.Writer, Error = error, EnableDefaultExceptionHandler = false },
                cancellation);
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"ingestctl: {e.Message}");
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM (through System.CommandLine's token), or the caller's token, before the answer came.
            await error.WriteLineAsync("ingestctl: interrupted");
            return ExitCodes.Interrupted;
        }
    }

    /// <summary>pbm's form: a first word that is not a palette or an option names the node
    /// (<c>ingestctl 10.0.0.1:9110 cluster show</c> is <c>ingestctl --node 10.0.0.1:9110 cluster show</c>).</summary>
    public static string[] Normalize(string[] args) =>
        args.Length > 0 && !args[0].StartsWith('-') && !Palettes.Contains(args[0], StringComparer.Ordinal)
            ? ["--node", args[0], .. args[1..]]
            : args;

    private sealed class Context(IAnsiConsole output, HttpMessageHandler? handler)
    {
        public IAnsiConsole Output { get; } = output;
        public HttpMessageHandler? Handler { get; } = handler;
    }

    private static RootCommand Build(Context context, Func<string, string?> environment)
    {
        var node = new Option<string>("--node", "-n")
        {
            Description = $"the node's admin API, host:port (default {DefaultNode}); also the first word, as pbm takes it",
            Recursive = true,
            DefaultValueFactory = _ => DefaultNode,
        };
        var token = new Option<string?>("--token")
        {
            Description = $"bearer token (Admin:Token of the node); default: ${TokenVariable}",
            Recursive = true,
        };
        // Each command's own option rather than a recursive one, so that capture's -o can name its file (as tcpdump's
        // users expect from -w and curl's from -o).
        var format = new Option<string>("--output", "-o")
        {
            Description = "table (default) or json (the API's records)",
            DefaultValueFactory = _ => "table",
        };
        format.AcceptOnlyFromAmong("table", "json");
        var timeout = new Option<int>("--timeout")
        {
            Description = "seconds to wait for the node (default 10)",
            Recursive = true,
            DefaultValueFactory = _ => 10,
        };
        timeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 600)
            {
                r.AddError("--timeout must be from 1 to 600 seconds");
            }
        });

        var root = new RootCommand("ingestctl: operate an IngestCluster through its nodes' admin API (pbm-style palettes)");
        root.Options.Add(node);
        root.Options.Add(token);
        root.Options.Add(timeout);

        Command Leaf(string name, string description, Func<Invocation, Task<int>> action, params Symbol[] symbols)
        {
            var command = new Command(name, description) { format };
            foreach (var symbol in symbols)
            {
                switch (symbol)
                {
                    case Option o:
                        command.Options.Add(o);
                        break;
                    case Argument a:
                        command.Arguments.Add(a);
                        break;
                }
            }
            command.SetAction(async (parse, cancellation) =>
            {
                string nodeText = parse.GetValue(node) ?? DefaultNode;
                string? tokenText = parse.GetValue(token) ?? environment(TokenVariable);
                using var client = new AdminClient(nodeText, tokenText, TimeSpan.FromSeconds(parse.GetValue(timeout)), context.Handler);
                return await action(new Invocation(parse, client, context.Output, parse.GetValue(format) == "json", cancellation));
            });
            return command;
        }

        // cluster: pbm's Petabridge.Cmd.Cluster palette.
        var address = new Option<string>("--address", "-a") { Description = "a member's cluster address, e.g. akka.tcp://ingest@10.0.0.1:4053" };
        var requiredAddress = new Option<string>("--address", "-a") { Description = "a member's cluster address, e.g. akka.tcp://ingest@10.0.0.1:4053", Required = true };
        var cluster = new Command("cluster", "cluster membership (pbm's cluster palette)")
        {
            Leaf("show", "every member: address, roles, status, reachability; then the count", ClusterCommands.Show),
            Leaf("status", "this node's own member status", ClusterCommands.Status),
            Leaf("leader", "the cluster leader", ClusterCommands.Leader),
            Leaf("unreachable", "members some other member cannot reach", ClusterCommands.Unreachable),
            Leaf("leave", "make this node (or -a member) leave the cluster gracefully", i => ClusterCommands.Leave(i, i.Parse.GetValue(address)), address),
            Leaf("down", "mark a member down (it is removed)", i => ClusterCommands.Down(i, i.Parse.GetValue(requiredAddress)!), requiredAddress),
            Leaf("down-unreachable", "mark every unreachable member down", ClusterCommands.DownUnreachable),
            Leaf("join", "make this node join the cluster of -a member", i => ClusterCommands.Join(i, i.Parse.GetValue(requiredAddress)!), requiredAddress),
            Leaf("tail", "print membership events as they happen (Ctrl+C stops)", ClusterCommands.Tail),
        };

        // cluster-sharding: pbm's Petabridge.Cmd.Cluster.Sharding palette.
        var region = new Option<string>("--region", "-r") { Description = "the entity type name, e.g. sources", Required = true };
        var sharding = new Command("cluster-sharding", "shard regions (pbm's cluster-sharding palette)")
        {
            Leaf("regions", "the entity types with a region on this node", ShardingCommands.Regions),
            Leaf("region-stats", "this node's region of -r type: its shards and their entities", i => ShardingCommands.RegionStats(i, i.Parse.GetValue(region)!), region),
            Leaf("shard-stats", "every node's shards of -r type, and their entity counts", i => ShardingCommands.ShardStats(i, i.Parse.GetValue(region)!), region),
        };

        var depth = new Option<int>("--depth", "-d") { Description = "levels below /user and /system (default 3)", DefaultValueFactory = _ => 3 };
        depth.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 20)
            {
                r.AddError("--depth must be from 1 to 20");
            }
        });
        var actor = new Command("actor", "the actor tree (pbm's actor palette)")
        {
            Leaf("hierarchy", "this node's actors, to -d depth", i => IngestCommands.Hierarchy(i, i.Parse.GetValue(depth)), depth),
        };

        var source = new Option<string?>("--source", "-s") { Description = "only this source address" };
        var ingest = new Command("ingest", "the data flow: flows, sources, tunnels, PIM")
        {
            Leaf("flows", "admitted (S,G) flows: state, node, counters", i => IngestCommands.Flows(i, i.Parse.GetValue(source)), source),
            Leaf("sources", "source entities: state, chosen relay, held-down relays", i => IngestCommands.Sources(i, i.Parse.GetValue(source)), source),
            Leaf("tunnels", "AMT tunnels: relay, state, counters", IngestCommands.Tunnels),
            Leaf("pim", "PIM interfaces of this node: neighbours, joins and their expiry", IngestCommands.Pim),
        };

        var prefix = new Argument<string>("prefix") { Description = "a source prefix, e.g. 162.250.136.0/22" };
        var relayName = new Argument<string>("relay") { Description = "address[:port] or DNS name[:port], e.g. amt-relay.m2icast.net" };
        var removePrefix = new Argument<string>("prefix") { Description = "the prefix of the override to remove" };
        var overrideCommand = new Command("override", "operator relays by source prefix (this node's; kept across restarts)")
        {
            Leaf("list", "the overrides, from settings and added here", RelayCommands.List),
            Leaf("add", "add or replace the override of a prefix", i => RelayCommands.Add(i, i.Parse.GetValue(prefix)!, i.Parse.GetValue(relayName)!), prefix, relayName),
            Leaf("remove", "remove an override added here", i => RelayCommands.Remove(i, i.Parse.GetValue(removePrefix)!), removePrefix),
        };
        var relay = new Command("relay", "AMT relays") { overrideCommand };

        var levelName = new Argument<string?>("level") { Description = "Trace, Debug, Information, Warning, Error or Critical; omit to show", Arity = ArgumentArity.ZeroOrOne };
        var log = new Command("log", "the node's logging")
        {
            Leaf("level", "show or set the log level at run time", i => RelayCommands.Level(i, i.Parse.GetValue(levelName)), levelName),
        };

        root.Subcommands.Add(cluster);
        root.Subcommands.Add(sharding);
        root.Subcommands.Add(actor);
        root.Subcommands.Add(ingest);
        root.Subcommands.Add(relay);
        root.Subcommands.Add(log);

        var rate = new Argument<string>("rate") { Description = "a bitrate with its unit (bps, kbps, Mbps, Gbps), e.g. 2Gbps; or settings (back to Budget:Limit)" };
        root.Subcommands.Add(new Command("budget", "the cluster's bandwidth budget")
        {
            Leaf("show", "the limit and where it came from, used, admitted, blocked (why, until when) and pending flows", BudgetCommands.Show),
            Leaf("set-limit", "set the limit at run time (persisted), or 'settings' to return to Budget:Limit",
                i => BudgetCommands.SetLimit(i, i.Parse.GetValue(rate)!), rate),
        });
        root.Subcommands.Add(CaptureCommand.Build(node, token, timeout, context.Output, context.Handler, environment));
        return root;
    }
}

/// <summary>One command's run: its parse, the node's client, where to write, and the output form.</summary>
internal sealed record Invocation(ParseResult Parse, AdminClient Client, IAnsiConsole Out, bool Json, CancellationToken Cancellation)
{
    /// <summary>Writes <paramref name="value"/> as the API's JSON, or calls <paramref name="table"/>.</summary>
    public int Render<T>(T value, JsonTypeInfo<T> type, Action table)
    {
        if (Json)
        {
            Out.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(value, type));
        }
        else
        {
            table();
        }
        return ExitCodes.Ok;
    }

    public void Line(string text) => Out.Profile.Out.Writer.WriteLine(text);

    public static string Number(long? value) => value?.ToString("N0", CultureInfo.InvariantCulture) ?? "–";

    public static Table Table(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var c in columns)
        {
            table.AddColumn(new TableColumn(c).NoWrap());
        }
        return table;
    }

    public void Write(Table table) => Out.Write(table);
}

/// <summary>Runs ingestctl with its output and errors captured as plain text (no colour, 240 columns): for tests, and
/// for anything that embeds ingestctl and wants its words.</summary>
internal static class CapturedRun
{
    public static async Task<(int Exit, string Out, string Error)> RunAsync(string[] args, Func<string, string?> environment,
        HttpMessageHandler? handler = null, CancellationToken cancellation = default)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(output),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 240;
        int exit = await IngestCtl.RunAsync(args, console, error, environment, handler, cancellation);
        return (exit, output.ToString(), error.ToString());
    }
}
