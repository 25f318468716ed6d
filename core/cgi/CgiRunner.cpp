#include "cgi/CgiRunner.h"

#include "cgi/CgiResponseParser.h"
#include "process/Child.h"
#include "util/Fd.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace lido::cgi {

namespace {


class CgiRun : public std::enable_shared_from_this<CgiRun> {
public:
    explicit CgiRun(CgiJob job)
        : job_(std::move(job)), exec_(job_.responder->executor()), stdin_(exec_), stdout_(exec_), timer_(exec_), retry_(exec_)
    {
    }

    void start()
    {
        auto self = shared_from_this();
        job_.responder->onAbort([self] { self->clientGone(); });
        const http::Request& req = job_.responder->request();
        if (req.chunked) {
            // CGI needs CONTENT_LENGTH (RFC 3875 §4.1.2): a chunked body is collected first.
            job_.responder->onBody([self](std::string_view c) { self->body_.append(c); },
                                   [self] {
                                       self->bodyComplete_ = true;
                                       self->job_.context.contentLength = self->body_.size();
                                       self->acquire();
                                   });
            return;
        }
        job_.context.contentLength = req.contentLength;
        job_.responder->onBody(
            [self](std::string_view c) {
                self->body_.append(c);
                self->job_.responder->setBodyBacklog(self->body_.size());
                self->pumpStdin();
            },
            [self] {
                self->bodyComplete_ = true;
                self->pumpStdin();
            });
        if (!req.hasBody())
            bodyComplete_ = true;
        acquire();
    }

private:
    void acquire()
    {
        auto self = shared_from_this();
        if (job_.track)
            job_.track->enter(log::Phase::Queued);
        if (!job_.limiter->acquire(exec_, [self](bool granted) { self->granted(granted); }, ticket_)) {
            job_.error(503, "too many CGI requests are waiting for pool '" + job_.context.request->host + "'; try again shortly",
                       {{"Retry-After", "5"}});
        }
    }

    void granted(bool ok)
    {
        if (!ok) {
            job_.error(503, "the CGI request waited longer than the pool's queue timeout", {{"Retry-After", "5"}});
            return;
        }
        holdsSlot_ = true;
        if (gone_) {
            releaseSlot();
            return;
        }
        spawnNow(0);
    }

    void spawnNow(int attempt)
    {
        if (job_.track)
            job_.track->enter(log::Phase::Spawning);
        // A request without a body: the program's stdin is /dev/null (an empty body, RFC 3875
        // §4.2), which costs no pipe.
        int in[2] = {-1, -1}, out[2];
        bool body = job_.responder->request().hasBody();
        if (body && ::pipe2(in, O_CLOEXEC) != 0) {
            retryOrFail(attempt, errno, std::string("pipe: ") + std::strerror(errno));
            return;
        }
        // The pipes stay here while the program starts (a spawn dropped by a stopping engine never
        // answers: they close with this run).
        childIn_ = Fd(in[0]);
        parentIn_ = Fd(in[1]);
        if (::pipe2(out, O_CLOEXEC) != 0) {
            int e = errno;
            childIn_.reset();
            parentIn_.reset();
            retryOrFail(attempt, e, std::string("pipe: ") + std::strerror(e));
            return;
        }
        childOut_ = Fd(out[1]);
        parentOut_ = Fd(out[0]);
        process::SpawnOptions o;
        o.program = job_.program;
        o.argv = job_.argv;
        o.env = cgiEnvironment(job_.context);
        o.workingDirectory = job_.workingDirectory;
        o.identity = job_.identity;
        o.limits = job_.limits;
        o.stdinFd = childIn_.get();
        o.stdoutFd = childOut_.get();
        // The program starts on a spawning thread: the event loop serves on while vfork waits
        // for its exec (measured: with the spawn on the loop, CGI left 46 % of 2 cores idle).
        process::Child::spawnAsync(exec_, std::move(o), [self = shared_from_this(), attempt](std::shared_ptr<process::Child> child, process::SpawnError error) {
            self->spawned(std::move(child), error, attempt);
        });
    }

    void spawned(std::shared_ptr<process::Child> child, const process::SpawnError& error, int attempt)
    {
        childIn_.reset();
        childOut_.reset();
        child_ = std::move(child);
        if (!child_) {
            parentIn_.reset();
            parentOut_.reset();
            if (error.err == EAGAIN || error.err == ENOMEM) {
                retryOrFail(attempt, error.err, error.message);
                return;
            }
            ++job_.limiter->spawnFailures;
            job_.events->add(log::Severity::Error, "cgi " + job_.scriptFile, "cgi.spawn-failed",
                             "CGI program " + job_.scriptFile + " could not be started: " + error.message);
            releaseSlot();
            if (!gone_)
                job_.error(502, "the CGI program " + job_.scriptFile + " could not be started: " + error.message, {});
            return;
        }
        ++job_.limiter->started;
        if (job_.track) {
            job_.track->setPid(child_->pid());
            job_.track->enter(log::Phase::Waiting);
        }
        if (parentIn_.get() >= 0) {
            ::fcntl(parentIn_.get(), F_SETFL, O_NONBLOCK);
            stdin_.assign(parentIn_.release());
        }
        stdout_.assign(parentOut_.release());
        auto self = shared_from_this();
        child_->watch({[self](std::string_view chunk) {
                           if (self->job_.track)
                               self->job_.track->addStderr(chunk);
                           self->stderrLine_.append(chunk);
                           self->flushStderrLine(false);
                       },
                       [self](int status) { self->exited(status); }});
        timer_.expires_after(job_.timeout);
        timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (!ec)
                self->timedOut();
        });
        pumpStdin();
        readStdout();
        if (gone_) // the client left while the program started
            terminate();
    }

    void retryOrFail(int attempt, int err, const std::string& message)
    {
        if (attempt < 6) {
            ++job_.limiter->spawnRetries;
            retry_.expires_after(std::chrono::milliseconds(10 << attempt)); // 10, 20, ... 320 ms
            retry_.async_wait([self = shared_from_this(), attempt](const asio::error_code& ec) {
                if (!ec && !self->gone_)
                    self->spawnNow(attempt + 1);
                else
                    self->releaseSlot();
            });
            return;
        }
        ++job_.limiter->spawnFailures;
        job_.events->add(log::Severity::Error, "cgi " + job_.scriptFile, "cgi.spawn-failed",
                         "CGI program " + job_.scriptFile + " could not be started after " + std::to_string(attempt) +
                             " retries: " + message + " (" + std::strerror(err) + ")");
        releaseSlot();
        job_.error(503, "the system could not start another process; try again shortly", {{"Retry-After", "2"}});
    }

    void pumpStdin()
    {
        if (writingStdin_ || !stdin_.is_open())
            return;
        if (!body_.empty()) {
            writingStdin_ = true;
            inFlight_ = std::move(body_);
            body_.clear();
            asio::async_write(stdin_, asio::buffer(inFlight_), [self = shared_from_this()](const asio::error_code& ec, size_t) {
                self->writingStdin_ = false;
                self->inFlight_.clear();
                if (ec) {
                    // The program stopped reading (EPIPE): the rest of the body is dropped.
                    asio::error_code ignored;
                    self->stdin_.close(ignored);
                    self->body_.clear();
                    self->job_.responder->setBodyBacklog(0);
                    return;
                }
                self->job_.responder->setBodyBacklog(self->body_.size());
                self->pumpStdin();
            });
            return;
        }
        if (bodyComplete_) {
            asio::error_code ignored;
            stdin_.close(ignored);
        }
    }

    void readStdout()
    {
        stdout_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const asio::error_code& ec, size_t n) {
            if (ec) {
                self->stdoutClosed();
                return;
            }
            self->fromStdout(std::string_view(self->buf_.data(), n));
        });
    }

    void fromStdout(std::string_view data)
    {
        if (gone_ || reported_ || !pendingReport_.empty())
            return readStdout(); // drained and dropped: the client has its answer already
        if (job_.nph) {
            if (!headDone_ && job_.track)
                job_.track->enter(log::Phase::Sending);
            headDone_ = true;
            job_.responder->sendRaw(std::string(data), [self = shared_from_this()](bool) {
                // Read on even when the client is gone: the slot is released only once the
                // program's output is drained and it has exited.
                self->readStdout();
            });
            return;
        }
        if (headDone_) {
            job_.responder->sendBody(std::string(data), [self = shared_from_this()](bool) {
                // Read on even when the client is gone: the slot is released only once the
                // program's output is drained and it has exited.
                self->readStdout();
            });
            return;
        }
        head_.append(data);
        HeaderParse p = parseResponseHeaders(head_, HeaderSyntax::Cgi);
        if (p.state == HeaderParse::State::NeedMore)
            return readStdout();
        if (p.state == HeaderParse::State::Error) {
            misbehaved("sent malformed headers: " + p.error);
            return;
        }
        headDone_ = true;
        const ResponseHeaders& h = p.head;
        std::string rest = head_.substr(h.consumed);
        head_.clear();
        if (!h.location.empty() && h.location.front() == '/' && !h.hasStatus && h.headers.size() == 1) {
            // RFC 3875 §6.2.2 local redirect: the server serves that path instead.
            redirected_ = true;
            kill();
            job_.localRedirect(h.location);
            return;
        }
        if (job_.track)
            job_.track->enter(log::Phase::Sending);
        job_.responder->cork(); // the head and the first of the body in one write
        job_.responder->sendHead(toResponseHead(h));
        if (!rest.empty())
            job_.responder->sendBody(std::move(rest), [self = shared_from_this()](bool) {
                // Read on even when the client is gone: the slot is released only once the
                // program's output is drained and it has exited.
                self->readStdout();
            });
        job_.responder->uncork();
        if (rest.empty())
            readStdout();
    }

    void stdoutClosed()
    {
        stdoutEof_ = true;
        if (headDone_) {
            // The response is complete only if the program did not die from a signal: wait
            // for its exit status before ending the response.
            if (exited_)
                endResponse();
            maybeDone();
            return;
        }
        // No complete header block: wait for the exit status to say what happened.
        if (exited_)
            misbehaved("closed its output before sending a complete set of headers");
        else {
            graceForExit_ = true;
            timer_.expires_after(std::chrono::seconds(1));
            timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
                if (!ec && !self->exited_)
                    self->kill();
            });
        }
    }

    void flushStderrLine(bool all)
    {
        // stderr of well-behaved programs goes to the log, line by line, rate-limited there.
        size_t nl;
        while ((nl = stderrLine_.find('\n')) != std::string::npos) {
            if (nl > 0)
                job_.events->add(log::Severity::Warning, "cgi " + job_.scriptFile, "cgi.stderr", stderrLine_.substr(0, std::min<size_t>(nl, 1024)));
            stderrLine_.erase(0, nl + 1);
        }
        if ((all && !stderrLine_.empty()) || stderrLine_.size() > 4096) {
            job_.events->add(log::Severity::Warning, "cgi " + job_.scriptFile, "cgi.stderr", stderrLine_.substr(0, 1024));
            stderrLine_.clear();
        }
    }

    // Told by the child once its stderr is read to the end (or 300 ms after the exit).
    void exited(int status)
    {
        status_exit_ = status;
        exited_ = true;
        flushStderrLine(true);
        if (graceForExit_ && !headDone_)
            misbehaved("closed its output before sending a complete set of headers");
        if (stdoutEof_ && headDone_)
            endResponse();
        report(false);
        maybeDone();
    }

    void endResponse()
    {
        if (ended_ || redirected_ || gone_ || reported_ || !pendingReport_.empty())
            return;
        ended_ = true;
        if (WIFSIGNALED(status_exit_)) {
            ++job_.limiter->misbehaving;
            job_.events->add(log::Severity::Error, "cgi " + job_.scriptFile, "cgi.crashed",
                             "CGI program " + job_.scriptFile + " died in the middle of its response: " + howItEnded() + "; " +
                                 stderrQuoted() + "; the client got a truncated response");
            job_.responder->abort();
            return;
        }
        job_.responder->finish();
    }

    std::string howItEnded() const
    {
        if (!exited_)
            return "was stopped after " + std::to_string(child_->ranFor().count()) + " ms";
        return "exited with " + process::describeStatus(status_exit_) + " after " + std::to_string(child_->ranFor().count()) + " ms";
    }

    std::string stderrQuoted() const
    {
        std::string q = child_->stderrQuoted();
        return q.empty() ? "no stderr output" : q;
    }

    void misbehaved(const std::string& what)
    {
        if (reported_ || !pendingReport_.empty())
            return;
        headDone_ = true;
        ++job_.limiter->misbehaving;
        pendingReport_ = what;
        kill();
        // The report waits for the exit status and the last of stderr (or one second at most).
        auto guard = std::make_shared<asio::steady_timer>(exec_, std::chrono::seconds(1));
        guard->async_wait([self = shared_from_this(), guard](const asio::error_code&) { self->report(true); });
        report(false);
    }

    void report(bool force)
    {
        if (reported_ || pendingReport_.empty() || (!force && !exited_))
            return;
        reported_ = true;
        std::string sentence = "CGI program " + job_.scriptFile + " misbehaved: it " + pendingReport_ + "; it " + howItEnded() + "; " +
                               stderrQuoted();
        job_.events->add(log::Severity::Error, "cgi " + job_.scriptFile, "cgi.misbehaved", sentence);
        if (!gone_)
            job_.error(502, sentence, {});
        maybeDone();
    }

    void timedOut()
    {
        if (exited_ && stdoutEof_)
            return;
        if (graceForExit_) {
            kill();
            return;
        }
        ++job_.limiter->timeouts;
        std::string sentence = "CGI program " + job_.scriptFile + " did not finish within the cgi timeout (" +
                               std::to_string(job_.timeout.count() / 1000) + " s) and was stopped";
        job_.events->add(log::Severity::Error, "cgi " + job_.scriptFile, "cgi.timeout", sentence);
        terminate();
        if (!job_.responder->headSent() && !gone_) {
            reported_ = true;
            job_.error(502, sentence, {});
        } else if (!gone_) {
            ended_ = true;
            job_.responder->abort();
        }
    }

    void clientGone()
    {
        gone_ = true;
        job_.limiter->cancel(ticket_);
        terminate();
    }

    // SIGTERM, then SIGKILL after a grace period, to the program's whole process group.
    void terminate()
    {
        if (child_)
            child_->terminate(std::chrono::seconds(2));
    }

    void kill()
    {
        if (child_)
            child_->kill();
    }

    void maybeDone()
    {
        if (done_ || !exited_ || !stdoutEof_)
            return;
        done_ = true;
        timer_.cancel();
        asio::error_code ignored;
        stdin_.close(ignored);
        stdout_.close(ignored);
        ++job_.limiter->completed;
        releaseSlot();
    }

    void releaseSlot()
    {
        if (holdsSlot_) {
            holdsSlot_ = false;
            job_.limiter->release();
        }
    }

    CgiJob job_;
    asio::any_io_executor exec_;
    asio::posix::stream_descriptor stdin_, stdout_;
    std::shared_ptr<process::Child> child_;
    asio::steady_timer timer_, retry_;
    CgiLimiter::Ticket ticket_;
    std::array<char, 16384> buf_{};
    std::string body_, inFlight_, head_, stderrLine_, pendingReport_;
    Fd childIn_, childOut_, parentIn_, parentOut_; // the pipes while the program starts
    int status_exit_ = 0;
    bool bodyComplete_ = false, writingStdin_ = false;
    bool headDone_ = false, stdoutEof_ = false, exited_ = false, graceForExit_ = false;
    bool ended_ = false, reported_ = false, redirected_ = false, gone_ = false, done_ = false, holdsSlot_ = false;
};

} // namespace

void runCgi(CgiJob job)
{
    std::make_shared<CgiRun>(std::move(job))->start();
}

} // namespace lido::cgi
