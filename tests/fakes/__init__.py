"""Local stand-ins for services that cannot be reached from here: real HTTP servers
on 127.0.0.1 that check every request against the official schemas."""
