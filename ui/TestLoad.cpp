#include "TestLoad.h"

#include <QDateTime>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTimer>

TestLoad::TestLoad(QObject* parent) : QObject(parent), net_(new QNetworkAccessManager(this)) {}

void TestLoad::start(const QList<QNetworkRequest>& requests, int seconds, int concurrency, int rate)
{
    if (running_ || requests.isEmpty())
        return;
    requests_ = requests;
    until_ = QDateTime::currentMSecsSinceEpoch() + qint64(seconds) * 1000;
    next_ = answered_ = failed_ = 0;
    pauseMs_ = rate > 0 ? 1000 * concurrency / rate : 0;
    running_ = true;
    for (int i = 0; i < concurrency; ++i)
        sendNext();
}

void TestLoad::sendNext()
{
    if (QDateTime::currentMSecsSinceEpoch() >= until_) {
        if (inFlight_ == 0 && running_) {
            running_ = false;
            emit finished(answered_, failed_);
        }
        return;
    }
    QNetworkRequest request = requests_[next_++ % requests_.size()];
    ++inFlight_;
    QNetworkReply* reply = net_->get(request);
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        --inFlight_;
        (reply->error() == QNetworkReply::NoError ? answered_ : failed_)++;
        reply->deleteLater();
        QTimer::singleShot(pauseMs_, this, &TestLoad::sendNext);
    });
}
