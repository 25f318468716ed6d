// The configuration reference in docs/configuration.md against the schema table: the committed
// page is what `lidoctl reference` writes today, and every element and attribute of the schema
// has its heading and its row, with its type and default.
#include "config/Schema.h"
#include "config/SchemaReference.h"

#include <QFile>
#include <QRegularExpression>
#include <QtTest>

using namespace lido::config;

class tst_Reference : public QObject {
    Q_OBJECT
private slots:
    void committedPageIsTheSchemas()
    {
        QFile f(LIDO_SOURCE_DIR "/docs/configuration.md");
        QVERIFY2(f.open(QIODevice::ReadOnly), "docs/configuration.md is missing");
        QByteArray committed = f.readAll();
        QByteArray generated = QByteArray::fromStdString(referenceMarkdown());
        if (committed != generated) {
            // The first line that differs, so the message says what went stale.
            QList<QByteArray> a = committed.split('\n'), b = generated.split('\n');
            int i = 0;
            while (i < a.size() && i < b.size() && a[i] == b[i])
                ++i;
            QFAIL(qPrintable(QString("docs/configuration.md is stale at line %1 (run: lidoctl reference > docs/configuration.md)\n"
                                     "  committed: %2\n  schema:    %3")
                                 .arg(i + 1)
                                 .arg(QString::fromUtf8(i < a.size() ? a[i] : "(end)"), QString::fromUtf8(i < b.size() ? b[i] : "(end)"))));
        }
    }

    void everyElementAndAttributeIsListed()
    {
        QFile f(LIDO_SOURCE_DIR "/docs/configuration.md");
        QVERIFY(f.open(QIODevice::ReadOnly));
        // Split the page into sections by "## element/path" and read each table's rows.
        QMap<QString, QMap<QString, QStringList>> page; // path -> attribute -> cells
        QString current;
        static const QRegularExpression row(R"(^\| `([^`]+)` \| ([^|]*) \| ([^|]*) \|)");
        for (const QByteArray& raw : f.readAll().split('\n')) {
            QString line = QString::fromUtf8(raw);
            if (line.startsWith("## ")) {
                current = line.mid(3);
                page[current];
            } else if (auto m = row.match(line); m.hasMatch() && !current.isEmpty()) {
                page[current][m.captured(1)] = {m.captured(2).trimmed(), m.captured(3).trimmed()};
            }
        }
        int attributes = 0;
        for (const ElementSpec& e : Schema::instance().elements()) {
            QString path = QString::fromStdString(e.path);
            QVERIFY2(page.contains(path), qPrintable("no section for " + path));
            for (const AttributeSpec& a : e.attributes) {
                QString name = QString::fromStdString(a.name);
                QVERIFY2(page[path].contains(name), qPrintable(path + "/@" + name + " is not listed"));
                QCOMPARE(page[path][name][0], QString::fromLatin1(typeName(a.type).data(), qsizetype(typeName(a.type).size())));
                QString def = a.defaultValue.empty() ? QString() : "`" + QString::fromStdString(a.defaultValue).replace("|", "\\|") + "`";
                QCOMPARE(page[path][name][1], def);
                ++attributes;
            }
            QCOMPARE(page[path].size(), qsizetype(e.attributes.size())); // nothing listed that the schema lacks
        }
        QCOMPARE(page.size(), qsizetype(Schema::instance().elements().size()));
        QVERIFY(attributes > 200);
    }

    void manPageHasEveryAttribute()
    {
        std::string man = referenceManPage("2026-12-02");
        for (const ElementSpec& e : Schema::instance().elements())
            for (const AttributeSpec& a : e.attributes)
                QVERIFY2(man.find(".B " + a.name + "\n") != std::string::npos, (e.path + "/@" + a.name).c_str());
    }
};

QTEST_APPLESS_MAIN(tst_Reference)
#include "tst_reference.moc"
