using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>An IPv4 address of this machine that is not loopback: traffic to it stays on the machine but arrives from a non-loopback address.</summary>
public static class LocalAddress
{
    public static IPAddress NonLoopback() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
        ?? throw new InvalidOperationException("this machine has no non-loopback IPv4 address to test remote access with");
}
