using IngestCluster.Lab;

// IngestCluster.Lab SUBCOMMAND [--option value ...]: lab peers for the end-to-end tests. Status lines go to
// stdout as one JSON object a line; usage errors go to stderr with exit code 2.
const string Usage =
    "usage: IngestCluster.Lab <source|receiver|relay|inject|dorms|netns-lab> [options]\n  " + MulticastSource.Usage + "\n  " +
    MulticastReceiver.Usage + "\n  " + RelayCommand.Usage + "\n  " + PacketInjector.Usage + "\n  " + DormsCommand.Usage + "\n  " + NetnsLabCommand.Usage;

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.Error.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

var rest = args[1..];
var subcommandUsage = args[0] switch
{
    "source" => MulticastSource.Usage,
    "receiver" => MulticastReceiver.Usage,
    "relay" => RelayCommand.Usage,
    "inject" => PacketInjector.Usage,
    "dorms" => DormsCommand.Usage,
    "netns-lab" => NetnsLabCommand.Usage,
    _ => null,
};
if (subcommandUsage is null)
{
    Console.Error.WriteLine($"error: unknown subcommand '{args[0]}'");
    Console.Error.WriteLine(Usage);
    return 2;
}

try
{
    return args[0] switch
    {
        "source" => await new MulticastSource(rest).RunAsync(StatusWriter.Console).ConfigureAwait(false),
        "receiver" => await new MulticastReceiver(rest).RunAsync(StatusWriter.Console).ConfigureAwait(false),
        "inject" => PacketInjector.Run(rest, StatusWriter.Console),
        "dorms" => await DormsCommand.RunAsync(rest, StatusWriter.Console).ConfigureAwait(false),
        "netns-lab" => await NetnsLabCommand.RunAsync(rest, StatusWriter.Console).ConfigureAwait(false),
        _ => await RelayCommand.RunAsync(rest, StatusWriter.Console).ConfigureAwait(false),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(subcommandUsage);
    return 2;
}
catch (System.Net.Sockets.SocketException e)
{
    // A socket the peer needs could not be set up (address not on this host, port in use, no permission).
    Console.Error.WriteLine($"error: {args[0]}: socket setup failed: {e.SocketErrorCode}: {e.Message}");
    return 1;
}
