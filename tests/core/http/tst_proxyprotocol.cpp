// The PROXY protocol header as HAProxy writes it (send-proxy, send-proxy-v2), and the address
// ranges of lido/forwardedFor and ipSecurity: what a load balancer says about the client.
#include "http/ProxyProtocol.h"
#include "util/AddressRanges.h"

#include <QtTest>

using lido::AddressRanges;
using lido::http::ProxyHeader;
using lido::http::parseProxyHeader;

namespace {

std::string v2(unsigned char command, unsigned char family, const std::string& addresses, const std::string& rest = {})
{
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += char(0x20 | command);
    h += char(family);
    h += char(addresses.size() >> 8);
    h += char(addresses.size() & 0xff);
    return h + addresses + rest;
}

std::string bytes(std::initializer_list<int> b)
{
    std::string s;
    for (int c : b)
        s += char(c);
    return s;
}

} // namespace

class tst_ProxyProtocol : public QObject {
    Q_OBJECT
private slots:
    void versionOneNamesTheClient()
    {
        std::string line = "PROXY TCP4 203.0.113.7 127.0.0.1 51234 8080\r\n";
        ProxyHeader h = parseProxyHeader(line + "GET / HTTP/1.1\r\n");
        QCOMPARE(h.result, ProxyHeader::Result::Done);
        QCOMPARE(h.version, 1);
        QCOMPARE(h.length, line.size()); // the request after it is not the header's
        QCOMPARE(h.sourceAddress, std::string("203.0.113.7"));
        QCOMPARE(h.sourcePort, uint16_t(51234));
        QCOMPARE(h.destinationPort, uint16_t(8080));
        QVERIFY(!h.local);

        ProxyHeader six = parseProxyHeader("PROXY TCP6 2001:db8::1 ::1 443 8443\r\n");
        QCOMPARE(six.result, ProxyHeader::Result::Done);
        QCOMPARE(six.sourceAddress, std::string("2001:db8::1"));

        ProxyHeader unknown = parseProxyHeader("PROXY UNKNOWN\r\n");
        QCOMPARE(unknown.result, ProxyHeader::Result::Done);
        QVERIFY(unknown.local); // the socket's own addresses stand
    }

    void versionOneIncompleteThenInvalid()
    {
        QCOMPARE(parseProxyHeader("PRO").result, ProxyHeader::Result::Incomplete);
        QCOMPARE(parseProxyHeader("PROXY TCP4 203.0.113.7 127.0.0.1 5").result, ProxyHeader::Result::Incomplete);
        for (std::string bad : {"PROXY TCP4 203.0.113.300 127.0.0.1 1 2\r\n", "PROXY TCP4 ::1 127.0.0.1 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
                                "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
                                "GET / HTTP/1.1\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"}) {
            ProxyHeader h = parseProxyHeader(bad);
            QVERIFY2(h.result == ProxyHeader::Result::Invalid, bad.c_str());
            QVERIFY(!h.error.empty());
        }
        QCOMPARE(parseProxyHeader("PROXY " + std::string(120, 'x')).result, ProxyHeader::Result::Invalid); // longer than 107 bytes
    }

    void versionTwoTcp4Tcp6AndLocal()
    {
        std::string four = v2(1, 0x11, bytes({198, 51, 100, 9, 127, 0, 0, 1, 0xc8, 0x1b, 0x1f, 0x90}));
        ProxyHeader h = parseProxyHeader(four + "GET /");
        QCOMPARE(h.result, ProxyHeader::Result::Done);
        QCOMPARE(h.version, 2);
        QCOMPARE(h.length, four.size());
        QCOMPARE(h.sourceAddress, std::string("198.51.100.9"));
        QCOMPARE(h.sourcePort, uint16_t(51227));
        QCOMPARE(h.destinationPort, uint16_t(8080));

        std::string a6(36, '\0');
        a6[0] = char(0x20), a6[1] = char(0x01), a6[2] = char(0x0d), a6[3] = char(0xb8), a6[15] = 7; // 2001:db8::7
        a6[31] = 1;                                                                               // ::1
        a6[32] = 0, a6[33] = 80, a6[34] = 0, a6[35] = 81;
        ProxyHeader six = parseProxyHeader(v2(1, 0x21, a6, "tail"));
        QCOMPARE(six.result, ProxyHeader::Result::Done);
        QCOMPARE(six.sourceAddress, std::string("2001:db8::7"));
        QCOMPARE(six.sourcePort, uint16_t(80));

        // TLVs after the addresses (HAProxy's ALPN, authority) are part of the header, skipped.
        std::string tlv = bytes({0x01, 0x00, 0x02, 'h', '2'});
        ProxyHeader withTlv = parseProxyHeader(v2(1, 0x11, bytes({10, 0, 0, 5, 10, 0, 0, 1, 0, 1, 0, 2}) + tlv));
        QCOMPARE(withTlv.result, ProxyHeader::Result::Done);
        QCOMPARE(withTlv.length, size_t(16 + 12 + 5));
        QCOMPARE(withTlv.sourceAddress, std::string("10.0.0.5"));

        ProxyHeader local = parseProxyHeader(v2(0, 0x00, ""));
        QCOMPARE(local.result, ProxyHeader::Result::Done);
        QVERIFY(local.local); // HAProxy's own health check

        QCOMPARE(parseProxyHeader(four.substr(0, 20)).result, ProxyHeader::Result::Incomplete);
        QCOMPARE(parseProxyHeader(four.substr(0, 10)).result, ProxyHeader::Result::Incomplete);
        std::string wrongVersion = four;
        wrongVersion[12] = char(0x31);
        QCOMPARE(parseProxyHeader(wrongVersion).result, ProxyHeader::Result::Invalid);
        QCOMPARE(parseProxyHeader(v2(1, 0x11, bytes({1, 2, 3}))).result, ProxyHeader::Result::Invalid); // too short for TCP4
    }

    void rangesMatchAddressesAndPrefixes()
    {
        AddressRanges r;
        QCOMPARE(AddressRanges::parse("10.0.0.0/8, 127.0.0.1 ,2001:db8::/32", r), std::string());
        QVERIFY(r.contains("10.200.3.4"));
        QVERIFY(r.contains("127.0.0.1"));
        QVERIFY(r.contains("::ffff:127.0.0.1")); // an IPv4 client on a dual-stack socket
        QVERIFY(r.contains("2001:db8:1::5"));
        QVERIFY(!r.contains("11.0.0.1"));
        QVERIFY(!r.contains("127.0.0.2"));
        QVERIFY(!r.contains("2001:db9::1"));
        QVERIFY(!r.contains("not an address"));
        AddressRanges odd;
        QCOMPARE(AddressRanges::parse("192.168.1.128/25", odd), std::string());
        QVERIFY(odd.contains("192.168.1.200"));
        QVERIFY(!odd.contains("192.168.1.100"));
        AddressRanges bad;
        QVERIFY(AddressRanges::parse("10.0.0.0/33", bad).find("0 to 32") != std::string::npos);
        QVERIFY(AddressRanges::parse("proxy.example", bad).find("'proxy.example'") != std::string::npos);
    }

    void forwardedForIsReadFromTheRightPastTrustedProxies()
    {
        AddressRanges trusted;
        AddressRanges::parse("127.0.0.1, 10.0.0.0/8", trusted);
        // The client claims 1.1.1.1; the edge proxy 10.1.1.1 saw 203.0.113.7; Lido's peer is 127.0.0.1.
        QCOMPARE(trusted.clientBehind("127.0.0.1", {"1.1.1.1, 203.0.113.7", "10.1.1.1"}), std::string("203.0.113.7"));
        QCOMPARE(trusted.clientBehind("198.51.100.1", {"203.0.113.7"}), std::string("198.51.100.1")); // an untrusted peer's header is ignored
        QCOMPARE(trusted.clientBehind("127.0.0.1", {"10.0.0.9"}), std::string("10.0.0.9"));            // every hop trusted: the first one
        QCOMPARE(trusted.clientBehind("127.0.0.1", {"203.0.113.7:4711"}), std::string("203.0.113.7"));
        QCOMPARE(trusted.clientBehind("127.0.0.1", {"[2001:db8::9]:4711"}), std::string("2001:db8::9"));
        QCOMPARE(trusted.clientBehind("127.0.0.1", {"unknown"}), std::string("127.0.0.1")); // not an address: the peer stands
    }
};

QTEST_GUILESS_MAIN(tst_ProxyProtocol)
#include "tst_proxyprotocol.moc"
