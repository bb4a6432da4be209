import { Sam3Error, type Sam3VideoPredictor, type SessionInfo } from "../core";

/**
 * The video sessions one MCP client (one MCP session) opened. The client sees and touches only these, any other
 * id is answered exactly as an absent one, and they are closed when the client goes.
 */
export class ClientSessions {
  private readonly opened = new Set<string>();
  private closed = false;

  constructor(private readonly predictor: () => Promise<Sam3VideoPredictor>) {}

  /** Records a session this client just opened; one opened after the client went is closed at once. */
  async add(id: string): Promise<void> {
    if (!this.closed) return void this.opened.add(id);
    await (await this.predictor()).handleRequest({ type: "close_session", session_id: id });
    throw new Sam3Error("CLOSED", "the client disconnected");
  }

  /** Refuses an id this client did not open as if no such session existed. */
  check(id: string): void {
    if (!this.opened.has(id)) throw new Sam3Error("UNKNOWN_SESSION", `no session "${id}" (it may have been closed or expired)`);
  }

  owns(id: string): boolean {
    return this.opened.has(id);
  }

  forget(id: string): void {
    this.opened.delete(id);
  }

  /** This client's sessions that are still open (expired ones are forgotten). */
  async list(): Promise<SessionInfo[]> {
    const { sessions } = await (await this.predictor()).handleRequest({ type: "list_sessions" });
    const open = new Set(sessions.map((s) => s.session_id));
    for (const id of this.opened) if (!open.has(id)) this.opened.delete(id);
    return sessions.filter((s) => this.opened.has(s.session_id));
  }

  /** Closes every session of this client: it has gone. */
  async closeAll(): Promise<void> {
    this.closed = true;
    if (!this.opened.size) return;
    const predictor = await this.predictor();
    const ids = [...this.opened];
    this.opened.clear();
    await Promise.all(ids.map((session_id) => predictor.handleRequest({ type: "close_session", session_id }).catch(() => undefined)));
  }
}
