namespace Distil.Server;

/// <summary>A serve/worker/submit setting is wrong in a way the user can fix; the message says how.</summary>
public sealed class ServiceConfigurationException(string message) : Exception(message);
